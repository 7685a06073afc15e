/**
 * The worker's side of the inbox (issue 25): one UserInbox object per user, addressed by the user's id,
 * and the calls that tell inboxes what only the worker sees (list changes, notifications). A failed call
 * never fails the request it rides on: the change stands in Postgres, and the inbox reads Postgres again
 * at its next session.
 */
import { mapBounded } from "../lib/bounded";
import { logJson } from "../lib/log";
import type { RemovedReason } from "../protocol/inbox";
import type { Bindings } from "./types";

/** Calls in flight at once when several users' inboxes are told of one change. */
const CONCURRENCY = 6;

export function inboxStub(env: Bindings, userId: string) {
  return env.INBOXES.get(env.INBOXES.idFromName(userId));
}

async function tell(userIds: string[], what: string, call: (userId: string) => Promise<unknown>) {
  await mapBounded([...new Set(userIds)], CONCURRENCY, (userId) =>
    call(userId).catch((err: Error) =>
      logJson("warn", { msg: "telling an inbox failed", what, userId, error: err.message }),
    ),
  );
}

/** These users were added to the room: their connected inboxes list it and register with it. */
export function roomAddedFor(env: Bindings, roomId: string, userIds: string[]): Promise<void> {
  return tell(userIds, "roomAdded", (u) => inboxStub(env, u).roomAdded(roomId));
}

/** The user left or was removed: their inbox drops the room on every device. */
export function roomRemovedFor(env: Bindings, roomId: string, userId: string, reason: RemovedReason): Promise<void> {
  return tell([userId], "roomRemoved", (u) => inboxStub(env, u).roomRemoved(roomId, reason));
}

/** Notifications of these users were created or read: their inboxes send the new count and list. */
export function notificationsChangedFor(env: Bindings, userIds: string[]): Promise<void> {
  return tell(userIds, "notificationsChanged", (u) => inboxStub(env, u).notificationsChanged());
}
