/** Members with no live socket get one notification job per message, through the real local queue. */
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { roomMembers } from "../../src/db/schema";
import { db } from "../helpers/fixtures";
import { roomWith, SocketPool, sendAndAck, stubFor } from "../helpers/rooms";

const pool = new SocketPool();
afterEach(() => {
  pool.closeAll();
  vi.restoreAllMocks();
});

function jobsSeen(log: { mock: { calls: unknown[][] } }, roomId: string): string[] {
  return log.mock.calls
    .map((c) => String(c[0]))
    .filter((line) => line.includes('"msg":"notification job received"') && line.includes(roomId))
    .map((line) => (JSON.parse(line) as { dedupeKey: string }).dedupeKey);
}

describe("notification jobs", () => {
  it("queues one job per offline, unmuted member, and none for the sender or those online", async () => {
    const log = vi.spyOn(console, "log");
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
    const s = await pool.join(room.id, sender.token);
    await pool.join(room.id, online.token);
    const seq = await sendAndAck(s, "notify-1", "hello @everyone");
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    await vi.waitUntil(() => jobsSeen(log, room.id).length > 0, { timeout: 5000, interval: 20 });
    // Give a duplicate (if any) the same chance to arrive before asserting there is exactly one.
    await new Promise((r) => setTimeout(r, 200));
    expect(jobsSeen(log, room.id)).toEqual([`${room.id}:${seq}:${offline.id}`]);
  });
});
