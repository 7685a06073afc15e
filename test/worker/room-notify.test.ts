/** Members with no live socket are notified of each message, through the real local queue. */
import { and, eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { notificationKeys } from "../../src/db/notification-schema";
import { roomMembers } from "../../src/db/schema";
import { db } from "../helpers/fixtures";
import { queueIdle, watchRoom } from "../helpers/queue-watch";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
afterEach(() => {
  vi.restoreAllMocks();
});

describe("notification jobs", () => {
  it("notifies each offline, unmuted member once, and not the sender or those online", async () => {
    const { room, users } = await roomWith(4);
    const [sender, online, offline, muted] = users as [
      (typeof users)[0],
      (typeof users)[0],
      (typeof users)[0],
      (typeof users)[0],
    ];
    await db()
      .update(roomMembers)
      .set({ mutedUntil: new Date(Date.now() + 3_600_000) })
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, muted.id)));
    await watchRoom(room.id);
    const s = await pool.join(room.id, sender.token);
    await pool.join(room.id, online.token);
    const seq = await sendAndAck(s, "notify-1", "hello @everyone");
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const keys = () =>
      db()
        .select({ seq: notificationKeys.seq, userId: notificationKeys.userId })
        .from(notificationKeys)
        .where(inArray(notificationKeys.roomId, [room.id]));
    // Once the queue is idle every job (a duplicate included) has run, so the keys are final.
    await queueIdle();
    expect(await keys()).toEqual([{ seq, userId: offline.id }]);
  });
});
