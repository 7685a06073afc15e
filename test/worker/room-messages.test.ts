/** Sending, ordering, idempotency, write-through and resume: the room's guarantees, against real Postgres. */
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { and, asc, eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { messages, roomMembers, rooms, users as usersTable } from "../../src/db/schema";
import { breakRedis, isolatedPostgresFault } from "../helpers/faults";
import { type createUser, db } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { type Frame, type TestSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const join = (roomId: string, token: string) => pool.join(roomId, token);

async function pgMessages(roomId: string) {
  return db().select().from(messages).where(eq(messages.roomId, roomId)).orderBy(asc(messages.seq));
}

describe("sending", () => {
  it("acks the sender with the seq and delivers the message to everyone, sender included", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = users as [Awaited<ReturnType<typeof createUser>>, Awaited<ReturnType<typeof createUser>>];
    const a = await join(room.id, ana.token);
    const b = await join(room.id, bob.token);
    a.send({ type: "send", clientMsgId: "m-1", body: "hello bob" });
    expect(await a.next("ack")).toEqual({ type: "ack", clientMsgId: "m-1", seq: 1 });
    const delivered = await b.next("message");
    expect(delivered).toMatchObject({
      roomId: room.id,
      seq: 1,
      senderId: ana.id,
      clientMsgId: "m-1",
      body: "hello bob",
      replyTo: null,
      editedAt: null,
      deletedAt: null,
    });
    expect((await a.next("message")).seq).toBe(1);
  });

  it("assigns a gapless seq under concurrent senders", async () => {
    const { room, users } = await roomWith(8);
    const sockets = await Promise.all(users.map((u) => join(room.id, u.token)));
    // Every socket fires 3 sends at once (the default throttle allows 3 per 5 s).
    sockets.forEach((s, i) => {
      for (let k = 0; k < 3; k++) s.send({ type: "send", clientMsgId: `c${i}-${k}`, body: `from ${i} #${k}` });
    });
    const acks = (
      await Promise.all(sockets.map(async (s) => [await s.next("ack"), await s.next("ack"), await s.next("ack")]))
    ).flat();
    const seqs = acks.map((a) => a.seq as number).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    // Each socket sees all 24 messages, in seq order.
    const seen = await Promise.all(
      sockets.map(async (s) => {
        const got: number[] = [];
        for (let k = 0; k < 24; k++) got.push((await s.next("message")).seq as number);
        return got;
      }),
    );
    for (const got of seen) expect(got).toEqual(seqs);
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    expect((await pgMessages(room.id)).map((m) => m.seq)).toEqual(seqs);
  });

  it("acks only what is durable: an acked message survives eviction and is replayed", async () => {
    const { room, users } = await roomWith(1);
    const a = await join(room.id, (users[0] as { token: string }).token);
    const seq = await sendAndAck(a, "durable-1", "kept");
    await evictDurableObject(stubFor(room.id));
    a.send({ type: "resume", lastSeq: seq - 1 });
    expect(await a.next("message")).toMatchObject({ seq, body: "kept" });
    expect(await a.next("resumed")).toEqual({ type: "resumed", fromSeq: seq, toSeq: seq, more: false });
  });

  it("re-acks a resent clientMsgId with the original seq and broadcasts nothing, also after eviction", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = users as { token: string }[] as [{ token: string }, { token: string }];
    const a = await join(room.id, ana.token);
    const b = await join(room.id, bob.token);
    const seq = await sendAndAck(a, "same-id");
    await b.next("message");
    a.send({ type: "send", clientMsgId: "same-id", body: "different text, same id" });
    expect(await a.next("ack")).toEqual({ type: "ack", clientMsgId: "same-id", seq, duplicate: true });
    await evictDurableObject(stubFor(room.id));
    a.send({ type: "send", clientMsgId: "same-id", body: "again" });
    expect(await a.next("ack")).toMatchObject({ seq, duplicate: true });
    // A fresh message proves the pipe is flowing and nothing else was broadcast in between.
    const next = await sendAndAck(a, "other-id");
    expect(next).toBe(seq + 1);
    expect((await b.next("message")).seq).toBe(seq + 1);
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    expect((await pgMessages(room.id)).map((m) => [m.seq, m.clientMsgId, m.body])).toEqual([
      [seq, "same-id", "body of same-id"],
      [seq + 1, "other-id", "body of other-id"],
    ]);
  });

  it("rejects a reply to a message that does not exist", async () => {
    const { room, users } = await roomWith(1);
    const a = await join(room.id, (users[0] as { token: string }).token);
    a.send({ type: "send", clientMsgId: "r-1", body: "re: nothing", replyTo: 99 });
    expect(await a.next("error")).toMatchObject({ code: "unprocessable", ref: "r-1" });
    const seq = await sendAndAck(a, "r-2");
    a.send({ type: "send", clientMsgId: "r-3", body: "re: r-2", replyTo: seq });
    expect((await a.next("ack")).seq).toBe(seq + 1);
  });
});

describe("write-through to Postgres", () => {
  it("upserts the batch, moves rooms.last_seq, and leaves nothing in the outbox", async () => {
    const { room, users } = await roomWith(1);
    const a = await join(room.id, (users[0] as { token: string }).token);
    for (const id of ["w1", "w2", "w3"]) await sendAndAck(a, id);
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    expect((await pgMessages(room.id)).map((m) => m.clientMsgId)).toEqual(["w1", "w2", "w3"]);
    const [r] = await db().select().from(rooms).where(eq(rooms.id, room.id));
    expect(r?.lastSeq).toBe(3);
    expect(r?.lastMessageAt).toBeInstanceOf(Date);
  });

  it("keeps acking while Postgres is unreachable, then drains with zero loss and zero duplicates", async () => {
    const { room, users } = await roomWith(3);
    const sockets = await Promise.all(users.map((u) => join(room.id, u.token)));
    const stub = stubFor(room.id);
    const fault = await isolatedPostgresFault(stub);
    await fault.cut();
    const warn = vi.spyOn(console, "warn");
    const acked: number[] = [];
    for (const [i, s] of sockets.entries())
      for (let k = 0; k < 3; k++) acked.push(await sendAndAck(s, `down-${i}-${k}`));
    // Backing off: one failed attempt, not one per message.
    await vi.waitUntil(() => warn.mock.calls.some((c) => String(c[0]).includes("write-through failed")));
    expect(warn.mock.calls.filter((c) => String(c[0]).includes("write-through failed")).length).toBe(1);
    warn.mockRestore();
    const stuck = await stub.drainOutbox();
    expect(stuck.depth).toBeGreaterThan(0);
    expect((await stub.stats()).outbox.depth).toBe(9);
    // Still down: the alarm retries, fails, and re-arms itself.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.stats()).outbox.depth).toBe(9);
    expect(await pgMessages(room.id)).toEqual([]);
    await fault.restore();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.stats()).outbox.depth).toBe(0);
    const rows = await pgMessages(room.id);
    expect(rows.map((m) => m.seq)).toEqual(acked.sort((x, y) => x - y));
    expect(new Set(rows.map((m) => m.clientMsgId)).size).toBe(9);
  });

  it("drains a backlog larger than one batch after an outage, in order, none twice", async () => {
    const { room, users } = await roomWith(1);
    const owner = users[0] as { id: string };
    const senders = await db()
      .insert(usersTable)
      .values(
        Array.from({ length: 85 }, (_, i) => ({
          email: `bulk-${i}-${crypto.randomUUID()}@example.test`,
          displayName: `b${i}`,
          passwordHash: "x",
        })),
      )
      .returning({ id: usersTable.id });
    await db()
      .insert(roomMembers)
      .values(senders.map((u) => ({ roomId: room.id, userId: u.id, role: "member" as const })));
    const stub = stubFor(room.id);
    const fault = await isolatedPostgresFault(stub);
    await fault.cut();
    // 85 senders × 3 messages (the default throttle) = 255 rows queued while Postgres is away.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        senders.map((u, i) =>
          stub.command(
            { roomId: room.id, userId: u.id, role: "member" },
            { type: "send", clientMsgId: `bulk-${i}-${round}`, body: "x" },
          ),
        ),
      );
    }
    expect((await stub.stats()).outbox.depth).toBe(255);
    await fault.restore();
    expect(await stub.drainOutbox()).toEqual({ depth: 0 });
    const rows = await pgMessages(room.id);
    expect(rows.map((m) => m.seq)).toEqual(Array.from({ length: 255 }, (_, i) => i + 1));
    expect(owner.id).toBeTruthy();
  });

  it("survives eviction while Postgres is down: the outbox is in SQLite and the alarm drains it later", async () => {
    const { room, users } = await roomWith(1);
    const a = await join(room.id, (users[0] as { token: string }).token);
    const stub = stubFor(room.id);
    const fault = await isolatedPostgresFault(stub);
    await fault.cut();
    await sendAndAck(a, "evicted-1");
    expect((await stub.drainOutbox()).depth).toBe(1);
    await evictDurableObject(stub);
    await fault.restore();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await pgMessages(room.id)).map((m) => m.clientMsgId)).toEqual(["evicted-1"]);
  });

  it("sets aside a row Postgres refuses for good without holding back the rest", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = users as [Awaited<ReturnType<typeof createUser>>, Awaited<ReturnType<typeof createUser>>];
    const a = await join(room.id, ana.token);
    const b = await join(room.id, bob.token);
    const stub = stubFor(room.id);
    const fault = await isolatedPostgresFault(stub);
    await fault.cut();
    await sendAndAck(a, "good-1");
    await sendAndAck(b, "bad-1");
    // bob's account disappears before the write-through: his message can never satisfy the foreign key.
    // (Deleted while the room's Postgres is still cut, so no retry can write his row first.)
    await db()
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, bob.id)));
    await db().delete(usersTable).where(eq(usersTable.id, bob.id));
    await fault.restore();
    expect(await stub.drainOutbox()).toEqual({ depth: 0 });
    expect((await pgMessages(room.id)).map((m) => m.clientMsgId)).toEqual(["good-1"]);
    expect((await stub.stats()).outbox.deadLetters).toBe(1);
  });
});

describe("resume", () => {
  it("replays exactly the messages after lastSeq, in order, from the ring", async () => {
    const { room, users } = await roomWith(2);
    const a = await join(room.id, (users[0] as { token: string }).token);
    for (const id of ["r1", "r2", "r3"]) await sendAndAck(a, id);
    const b = await join(room.id, (users[1] as { token: string }).token);
    b.send({ type: "resume", lastSeq: 1 });
    expect((await b.next("message")).seq).toBe(2);
    expect((await b.next("message")).seq).toBe(3);
    expect(await b.next("resumed")).toEqual({ type: "resumed", fromSeq: 2, toSeq: 3, more: false });
    b.send({ type: "resume", lastSeq: 3 });
    expect(await b.next("resumed")).toEqual({ type: "resumed", fromSeq: 4, toSeq: 3, more: false });
    expect(b.frames.filter((f) => f.type === "message")).toEqual([]);
  });

  it("reads history older than the ring from Postgres, after eviction, with no gap at the seam", async () => {
    // The test ring holds 20 messages; 30 senders' worth of messages pushes the first ones out of it.
    const { room, users } = await roomWith(10);
    const sockets = await Promise.all(users.map((u) => join(room.id, u.token)));
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of sockets.entries()) await sendAndAck(s, `g-${i}-${round}`);
    }
    const stub = stubFor(room.id);
    expect(await stub.drainOutbox()).toEqual({ depth: 0 });
    await evictDurableObject(stub);
    const reader = sockets[0] as TestSocket;
    reader.frames.length = 0;
    reader.send({ type: "resume", lastSeq: 0 });
    const got: Frame[] = [];
    for (let k = 0; k < 30; k++) got.push(await reader.next("message"));
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(got[0]).toMatchObject({ clientMsgId: "g-0-0", roomId: room.id });
    expect(await reader.next("resumed")).toEqual({ type: "resumed", fromSeq: 1, toSeq: 30, more: false });
  });

  it("answers a lastSeq past the room's end with a resync hint, and a negative one as a bad frame", async () => {
    const { room, users } = await roomWith(1);
    const a = await join(room.id, (users[0] as { token: string }).token);
    await sendAndAck(a, "only");
    a.send({ type: "resume", lastSeq: 5 });
    expect(await a.next("error")).toMatchObject({ code: "resync_required", ref: "resume" });
    a.send({ type: "resume", lastSeq: -1 });
    expect(await a.next("error")).toMatchObject({ code: "bad_frame" });
    expect(a.closed).toBeNull();
  });

  it("reports history as unavailable (and keeps the socket) when Postgres is needed but down", async () => {
    const { room, users } = await roomWith(10);
    const sockets = await Promise.all(users.map((u) => join(room.id, u.token)));
    for (let round = 0; round < 3; round++)
      for (const [i, s] of sockets.entries()) await sendAndAck(s, `u-${i}-${round}`);
    const stub = stubFor(room.id);
    await stub.drainOutbox();
    const fault = await isolatedPostgresFault(stub);
    await fault.cut();
    const reader = sockets[1] as TestSocket;
    reader.frames.length = 0;
    reader.send({ type: "resume", lastSeq: 0 });
    expect(await reader.next("error")).toMatchObject({ code: "unavailable", ref: "resume" });
    expect(reader.frames.filter((f) => f.type === "message")).toEqual([]);
    expect(reader.closed).toBeNull();
  });
});

describe("Redis down", () => {
  it("still acks and writes through when the buffer cannot be written", async () => {
    const { room, users } = await roomWith(1);
    const a = await join(room.id, (users[0] as { token: string }).token);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const stub = stubFor(room.id);
    await breakRedis(stub);
    await sendAndAck(a, "no-redis");
    expect(await stub.drainOutbox()).toEqual({ depth: 0 });
    expect((await pgMessages(room.id)).map((m) => m.clientMsgId)).toEqual(["no-redis"]);
    await vi.waitUntil(() => warn.mock.calls.some((c) => String(c[0]).includes("redis buffer write failed")), {
      timeout: 5000,
    });
    warn.mockRestore();
  });
});
