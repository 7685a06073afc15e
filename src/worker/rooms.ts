import { eq } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { findMembership } from "../db/membership";
import { roomMembers } from "../db/schema";
import { mapBounded } from "../lib/bounded";
import { logJson } from "../lib/log";
import type { Role } from "../protocol/identity";
import type { Bindings } from "./types";

/** The user's role in the room, or null when they may not act in it (see findMembership). */
export async function memberRole(env: Bindings, roomId: string, userId: string): Promise<Role | null> {
  return (await findMembership(createDb(env), roomId, userId))?.role ?? null;
}

/** One Durable Object per room, addressed by the room's id. */
export function roomStub(env: Bindings, roomId: string) {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

/** Closes the user's open sockets in every room they belong to, a few rooms at a time, and their inbox's. */
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
  // And the user's inbox sockets (every device), which would otherwise live until their token expired.
  await env.INBOXES.get(env.INBOXES.idFromName(userId))
    .disconnect(reason)
    .catch((err: Error) => logJson("warn", { msg: "inbox disconnect failed", reason, error: err.message }));
}
