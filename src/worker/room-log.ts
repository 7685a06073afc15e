/**
 * Membership and room settings live in Postgres (REST checks them there); once a change is committed
 * there, the room records it in its change log so clients catching up learn of it in order. The room's
 * record is idempotent (it records only what differs from what it last recorded), so a retry is safe.
 */
import { inArray } from "drizzle-orm";
import { createDb } from "../db/client";
import { users } from "../db/schema";
import { logJson } from "../lib/log";
import { AppError } from "../protocol/errors";
import type { Actor } from "../protocol/identity";
import type { MemberCommand, RoomUpdateCommand } from "../protocol/room-rpc";
import { roomStub } from "./rooms";
import type { Bindings } from "./types";

const ATTEMPTS = 3;

type Change = Omit<MemberCommand, "names"> | Omit<RoomUpdateCommand, "names">;

/**
 * Records committed changes in the room's log, in order. Throws 503 `unavailable` if the room cannot be
 * reached after a few tries: the change stands in Postgres, and the request is safe to repeat.
 */
export async function recordInRoom(env: Bindings, actor: Actor, changes: Change[]): Promise<void> {
  const ids = [...new Set([actor.userId, ...changes.flatMap((c) => ("userId" in c ? [c.userId] : []))])];
  const rows = await createDb(env)
    .select({ id: users.id, displayName: users.displayName })
    .from(users)
    .where(inArray(users.id, ids));
  const names = Object.fromEntries(rows.map((r) => [r.id, r.displayName]));
  const room = roomStub(env, actor.roomId);
  for (const change of changes) {
    let lastError: unknown;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const result = await room.command(actor, { ...change, names } as MemberCommand | RoomUpdateCommand);
        if (result.status === "rejected") throw new Error(`${result.code}: ${result.message}`);
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
      }
    }
    if (lastError !== undefined) {
      logJson("error", {
        msg: "recording a change in the room failed",
        roomId: actor.roomId,
        change: change.type,
        error: (lastError as Error).message,
      });
      throw new AppError(503, "unavailable", "The change was saved but the room could not record it yet; retry");
    }
  }
}
