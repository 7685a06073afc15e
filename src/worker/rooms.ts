import { and, eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { roomMembers } from "../db/schema";
import type { Role } from "../durable-objects/identity";
import type { Bindings } from "./types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The user's role in the room, or null when they are not a member (or the id is not a room id at all). */
export async function memberRole(env: Bindings, roomId: string, userId: string): Promise<Role | null> {
  if (!UUID.test(roomId)) return null;
  const [row] = await createDb(env)
    .select({ role: roomMembers.role })
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    .limit(1);
  return row?.role ?? null;
}

/** One Durable Object per room, addressed by the room's id. */
export function roomStub(env: Bindings, roomId: string) {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}
