/**
 * Issue 24: rooms answer "may this user connect" themselves (src/durable-objects/member-cache.ts), so a
 * route that takes membership away in Postgres tells the room first. If the room cannot be told, nothing
 * is committed: a room that vouched for someone Postgres no longer has would let them back in.
 */
import { logJson } from "../lib/log";
import { AppError } from "../protocol/errors";
import { roomStub } from "./rooms";
import type { Bindings } from "./types";

/** Call before the Postgres write that removes or bans `userId` in `roomId`; throws 503 if the room is out of reach. */
export async function revokingInRoom(env: Bindings, roomId: string, userId: string): Promise<void> {
  try {
    await roomStub(env, roomId).revokingMember(userId);
  } catch (err) {
    logJson("error", { msg: "room not told of a membership revocation", roomId, error: (err as Error).message });
    throw new AppError(503, "unavailable", "The room could not be reached; nothing was changed, retry");
  }
}
