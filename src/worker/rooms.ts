import { and, eq, isNull } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { roomMembers, users } from "../db/schema";
import { mapBounded } from "../lib/bounded";
import { logJson } from "../lib/log";
import type { Role } from "../protocol/identity";
import type { Bindings } from "./types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The user's role in the room, or null when they are not a member (or the id is not a room id at all).
 * A banned user is nobody's member: their still-valid access tokens open no socket.
 */
export async function memberRole(env: Bindings, roomId: string, userId: string): Promise<Role | null> {
  if (!UUID.test(roomId)) return null;
  const [row] = await createDb(env)
    .select({ role: roomMembers.role })
    .from(roomMembers)
    .innerJoin(users, and(eq(users.id, roomMembers.userId), isNull(users.bannedAt)))
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    .limit(1);
  return row?.role ?? null;
}

/** One Durable Object per room, addressed by the room's id. */
export function roomStub(env: Bindings, roomId: string) {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

/** Closes the user's open sockets in every room they belong to, a few rooms at a time. */
export async function disconnectEverywhere(
  env: Bindings,
  db: Db,
  userId: string,
  reason: "logged_out" | "banned",
): Promise<void> {
  const rooms = await db.select({ roomId: roomMembers.roomId }).from(roomMembers).where(eq(roomMembers.userId, userId));
  await mapBounded(rooms, 10, (r) =>
    roomStub(env, r.roomId)
      .disconnectUser(userId, reason)
      .catch((err: Error) =>
        logJson("warn", { msg: "disconnect failed", reason, roomId: r.roomId, error: err.message }),
      ),
  );
}
