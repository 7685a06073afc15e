/**
 * Integration (real room, real Postgres): frame batching as clients see it. A socket that opens with
 * `?since=<v>&batch=1` gets a busy room's broadcasts gathered into `batch {frames}`; unpacked, they are
 * the same changes, each `v` once and in order, across a catch-up that starts while a batch is open (the
 * socket is held, so the catch-up covers what the window holds, and nothing arrives twice). Acks never
 * overtake the sender's own message. Sockets that did not ask, and protocol 1 sockets that did, get one
 * frame per change as before.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { DEFAULT_BATCH } from "../../src/durable-objects/frame-batch";
import { roomWith, stubFor, type TestUser } from "../helpers/rooms";
import { type Frame, type TestSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

/** Every frame received, batches unpacked, in order. */
function unpacked(socket: TestSocket): Frame[] {
  return socket.frames.flatMap((f) => (f.type === "batch" ? (f.frames as Frame[]) : [f]));
}

function versions(frames: Frame[]): number[] {
  return frames.flatMap((f) => (typeof f.v === "number" ? [f.v] : []));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Waits until the socket has unpacked a frame with version `v`. */
async function untilVersion(socket: TestSocket, v: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!versions(unpacked(socket)).includes(v)) {
    if (Date.now() > deadline) throw new Error(`no v ${v}; got ${JSON.stringify(versions(unpacked(socket)))}`);
    await socket.until(() => false, 20).catch(() => undefined);
  }
}

/**
 * A wide window, so frames a test sends in a burst are batched whatever the machine's speed; and the
 * throttle lifted (as the benchmark lifts it), so a burst from one sender is all accepted.
 */
async function widenWindow(roomId: string, windowMs: number): Promise<void> {
  await runInDurableObject(stubFor(roomId), async (room: ChatRoom) => {
    room.sockets.batcher.settings = { ...DEFAULT_BATCH, minWindowMs: windowMs, maxWindowMs: windowMs };
    Object.assign(room, { env: { ...env, THROTTLE_MESSAGES: "1000000", THROTTLE_WINDOW_MS: "1000" } });
  });
}

async function burst(sender: TestSocket, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) sender.send({ type: "send", clientMsgId: `${prefix}-${i}`, body: `${prefix} ${i}` });
}

describe("frame batching (integration)", () => {
  it("gathers a burst into batch frames for sockets that asked, and only for them", async () => {
    const { room, users } = await roomWith(4);
    const [ana, bob, cyd, dee] = users as [TestUser, TestUser, TestUser, TestUser];
    const batched = await pool.connect(room.id, bob.token, {}, "?since=0&batch=1");
    const plain = await pool.connect(room.id, cyd.token, {}, "?since=0");
    const protocol1 = await pool.connect(room.id, dee.token, {}, "?batch=1");
    for (const s of [batched, plain]) await s.next("synced");
    await protocol1.next("welcome");
    await widenWindow(room.id, 300);
    const sender = await pool.connect(room.id, ana.token, {}, "?since=0&batch=1");
    await sender.next("synced");

    await burst(sender, "b", 12);
    for (const s of [batched, plain]) await untilVersion(s, 12);

    expect(batched.frames.some((f) => f.type === "batch")).toBe(true);
    expect(batched.frames.length).toBeLessThan(12);
    expect(versions(unpacked(batched))).toEqual(range(1, 12));
    expect(plain.frames.some((f) => f.type === "batch")).toBe(false);
    expect(versions(plain.frames)).toEqual(range(1, 12));
    await protocol1.until((f) => f.type === "message" && f.seq === 12);
    expect(protocol1.frames.some((f) => f.type === "batch")).toBe(false);
    // Batches carry the frames as they are (same JSON as the unbatched socket's).
    expect(unpacked(batched).filter((f) => f.type === "message")).toEqual(
      plain.frames.filter((f) => f.type === "message"),
    );

    // The sender batches too: each of its messages reaches it before the ack that answers it.
    await untilVersion(sender, 12);
    const mine = unpacked(sender);
    for (let i = 0; i < 12; i++) {
      const message = mine.findIndex((f) => f.type === "message" && f.clientMsgId === `b-${i}`);
      const ack = mine.findIndex((f) => f.type === "ack" && f.clientMsgId === `b-${i}`);
      expect(message).toBeGreaterThanOrEqual(0);
      expect(ack).toBeGreaterThan(message);
    }
  });

  it("keeps the change-log guarantees: a socket held for its catch-up while a batch is open gets each v once, in order", async () => {
    const { room, users } = await roomWith(3);
    const [ana, bob, cyd] = users as [TestUser, TestUser, TestUser];
    const live = await pool.connect(room.id, bob.token, {}, "?since=0&batch=1");
    await live.next("synced");
    const sender = await pool.connect(room.id, ana.token, {}, "?since=0&batch=1");
    await sender.next("synced");
    await widenWindow(room.id, 400);

    // 1..10 go out; while 11..20 sit in an open window, a socket arrives with since=5 (held, catching up).
    await burst(sender, "first", 10);
    await untilVersion(sender, 10);
    await burst(sender, "second", 10);
    const late = await pool.connect(room.id, cyd.token, {}, "?since=5&batch=1");
    await burst(sender, "third", 10);
    for (const s of [live, late, sender]) await untilVersion(s, 30);
    await late.until((f) => f.type === "synced");

    for (const s of [live, late, sender]) {
      const got = versions(unpacked(s));
      expect(new Set(got).size).toBe(got.length);
    }
    expect(versions(unpacked(live))).toEqual(range(1, 30));
    expect(versions(unpacked(late))).toEqual(range(6, 30));
    // Whatever the catch-up sent came before `synced`, and nothing after it repeats it.
    const lateFrames = unpacked(late);
    const synced = lateFrames.findIndex((f) => f.type === "synced");
    const caughtUp = versions(lateFrames.slice(0, synced));
    expect(caughtUp[0]).toBe(6);
    expect(lateFrames[synced]).toMatchObject({ fromVersion: 6, toVersion: caughtUp.at(-1) });
    expect(live.frames.some((f) => f.type === "batch")).toBe(true);
  });

  it("answers a sync asked in the middle of a window after what the window held, as unbatched", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = users as [TestUser, TestUser];
    const sender = await pool.connect(room.id, ana.token, {}, "?since=0&batch=1");
    const b = await pool.connect(room.id, bob.token, {}, "?since=0&batch=1");
    for (const s of [sender, b]) await s.next("synced");
    await widenWindow(room.id, 1000);
    await burst(sender, "w", 5);
    await untilVersion(sender, 5);
    // Bob has nothing yet past the first message (the rest waits in the window); he asks from 1.
    b.send({ type: "sync", since: 1 });
    await b.until((f) => f.type === "synced" && f.fromVersion === 2);
    const frames = unpacked(b);
    const synced = frames.findIndex((f) => f.type === "synced" && f.fromVersion === 2);
    // The window's frames were flushed to him first (as unbatched they had already arrived), then the
    // catch-up repeats 2..5, as a sync asked after receiving them does; the SDK drops what it has.
    expect(versions(frames.slice(0, synced))).toEqual([1, 2, 3, 4, 5, 2, 3, 4, 5]);
  });

  it("loses nothing to a reset inside a window: the reset closes the sockets, and a reconnect catches up exactly", async () => {
    const { room, users } = await roomWith(3);
    const [ana, bob, cyd] = users as [TestUser, TestUser, TestUser];
    const batched = await pool.connect(room.id, bob.token, {}, "?since=0&batch=1");
    const plain = await pool.connect(room.id, cyd.token, {}, "?since=0");
    const sender = await pool.connect(room.id, ana.token, {}, "?since=0");
    for (const s of [batched, plain, sender]) await s.next("synced");
    await widenWindow(room.id, 5000);
    await burst(sender, "lost", 3);
    await untilVersion(plain, 3);
    // Bob's share of 1..3 waits in a window when the object is reset (as a crash resets it; an
    // eviction would wait for the window's timer instead).
    await runInDurableObject(stubFor(room.id), async (_room: ChatRoom, state) => state.abort("test: reset")).catch(
      () => undefined,
    );
    expect(versions(unpacked(batched))).toEqual([]);
    await batched.waitClosed();
    // Reconnecting from what he has, he gets exactly what he missed.
    const again = await pool.connect(room.id, bob.token, {}, "?since=0&batch=1");
    await again.until((f) => f.type === "synced");
    expect(versions(unpacked(again))).toEqual(range(1, 3));
  });
});
