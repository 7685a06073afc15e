/**
 * The one answer to "may this user act in this room, and with which role": a member row for the user in
 * the room, and the user not banned. REST routes, the socket upgrade and its ticket all ask here, so a ban
 * holds on every path from Postgres alone, with Redis up or down (Redis may only make refusals faster).
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Role } from "../protocol/identity";
import type { Db } from "./client";
import { type Room, roomMembers, rooms, users } from "./schema";

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Membership {
  room: Room;
  role: Role;
}

/** Null for a non-member, a banned user, a missing room, or an id that is not a room id at all. */
export async function findMembership(db: Db, roomId: string, userId: string): Promise<Membership | null> {
  if (!UUID.test(roomId) || !UUID.test(userId)) return null;
  const [row] = await db
    .select({ room: rooms, role: roomMembers.role })
    .from(rooms)
    .innerJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, userId)))
    .innerJoin(users, and(eq(users.id, roomMembers.userId), isNull(users.bannedAt)))
    .where(eq(rooms.id, roomId.toLowerCase()))
    .limit(1);
  return row ?? null;
}
