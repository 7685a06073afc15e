/**
 * Unit (runs in workerd for its WebSocket and object types; fake clock, no I/O): frame batching is a
 * change of framing only. The same random run of broadcasts (changes with `v`, typing with its sender
 * skipped, blocked authors' stand-ins), frames sent straight to one socket (acks, catch-up frames),
 * sockets held and released, resumes, joins and closes, is played against two registries: one where some sockets negotiated batching and one where none did. Unpacked,
 * every socket receives exactly the same frames in the same order in both, each `v` once; batching
 * sockets get fewer WebSocket frames when the room is busy; the queue never outgrows its bound.
 */
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConnectionState } from "../../src/durable-objects/connection";
import { batchText, DEFAULT_BATCH, FrameBatcher } from "../../src/durable-objects/frame-batch";
import { SocketRegistry, send } from "../../src/durable-objects/sockets";
import type { Visibility } from "../../src/durable-objects/visibility";
import type { ServerFrame } from "../../src/protocol/frames";

/** A WebSocket as the registry uses it: an attachment, and every text it was sent. */
class FakeSocket {
  attachment: unknown = null;
  readonly texts: string[] = [];
  readyState = 1;
  serializeAttachment(v: unknown) {
    this.attachment = structuredClone(v);
  }
  deserializeAttachment() {
    return this.attachment;
  }
  send(text: string) {
    if (this.readyState !== 1) throw new Error("closed");
    this.texts.push(text);
  }
  /** What the client applies: batches unpacked, each frame once, in order. */
  frames(): ServerFrame[] {
    return this.texts.flatMap((t) => {
      const f = JSON.parse(t) as ServerFrame;
      return f.type === "batch" ? f.frames : [f];
    });
  }
}

const ctx = { getWebSockets: () => [] } as unknown as DurableObjectState;

/** Blocks: viewer → authors they block (hidden from them, as visibility.ts decides). */
function visibility(blocks: Map<string, Set<string>>): Visibility {
  return {
    hiddenFrom(frame: ServerFrame) {
      const author = frame.type === "message" ? frame.senderId : frame.type === "typing" ? frame.userId : null;
      if (author === null) return null;
      const out = new Set<string>();
      for (const [viewer, authors] of blocks) if (authors.has(author)) out.add(viewer);
      return out.size ? out : null;
    },
  } as unknown as Visibility;
}

type Op =
  | { op: "message"; author: number }
  | { op: "typing"; socket: number }
  | { op: "direct"; socket: number }
  | { op: "hold"; socket: number; on: boolean }
  | { op: "resume"; socket: number; on: boolean }
  | { op: "block"; viewer: number; author: number }
  | { op: "close"; socket: number }
  | { op: "join"; held: boolean }
  | { op: "wait"; ms: number };

const SOCKETS = 5;
const USERS = ["u0", "u1", "u2", "u3", "u4"];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("message" as const), author: fc.nat(SOCKETS - 1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("typing" as const), socket: fc.nat(SOCKETS - 1) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("direct" as const), socket: fc.nat(SOCKETS - 1) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("hold" as const), socket: fc.nat(SOCKETS - 1), on: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("resume" as const), socket: fc.nat(SOCKETS - 1), on: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("block" as const),
      viewer: fc.nat(SOCKETS - 1),
      author: fc.nat(SOCKETS - 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("close" as const), socket: fc.nat(SOCKETS - 1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("join" as const), held: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 60 }) }) },
);

/** One room: SOCKETS sockets, those in `batching` with batch on. Plays ops; returns what each received. */
function play(ops: Op[], batching: Set<number>, settings = DEFAULT_BATCH) {
  const blocks = new Map<string, Set<string>>();
  const reg = new SocketRegistry(ctx, visibility(blocks), settings);
  const sockets: FakeSocket[] = [];
  const open = (userId: string, held: boolean) => {
    const i = sockets.length;
    const ws = new FakeSocket();
    const state: ConnectionState = {
      userId,
      connId: `c${i}`,
      role: "member",
      tokenExpiresAt: 0,
      warned: false,
      connectedAt: 0,
      lastFrameAt: 0,
      resuming: false,
      ...(held ? { held: true } : {}),
      // Sockets that join later batch when socket 0 does.
      ...(batching.has(i < SOCKETS ? i : 0) ? { batch: true } : {}),
    };
    sockets.push(ws);
    reg.add(ws as unknown as WebSocket, state);
  };
  for (const userId of USERS) open(userId, false);
  const ws = (i: number) => sockets[i] as unknown as WebSocket;
  let v = 0;
  let seq = 0;
  let direct = 0;
  let maxPending = 0;
  for (const o of ops) {
    switch (o.op) {
      case "message":
        v++;
        seq++;
        reg.broadcast({
          type: "message",
          v,
          roomId: "r",
          seq,
          senderId: USERS[o.author] as string,
          clientMsgId: `m${seq}`,
          body: "x".repeat(50),
          replyTo: null,
          createdAt: "t",
          editedAt: null,
          deletedAt: null,
        });
        break;
      case "typing":
        reg.broadcast({ type: "typing", userId: USERS[o.socket] as string, on: true }, ws(o.socket));
        break;
      case "direct":
        send(ws(o.socket), { type: "ack", clientMsgId: `d${++direct}`, seq });
        break;
      case "hold":
        reg.update(ws(o.socket), { held: o.on });
        break;
      case "resume":
        reg.update(ws(o.socket), { resuming: o.on });
        break;
      case "block": {
        const set = blocks.get(USERS[o.viewer] as string) ?? new Set<string>();
        set.add(USERS[o.author] as string);
        blocks.set(USERS[o.viewer] as string, set);
        break;
      }
      case "close":
        (sockets[o.socket] as FakeSocket).readyState = 3;
        break;
      case "join":
        open(USERS[sockets.length % USERS.length] as string, o.held);
        break;
      case "wait":
        vi.advanceTimersByTime(o.ms);
        break;
    }
    maxPending = Math.max(maxPending, reg.batcher.pending());
  }
  vi.runAllTimers();
  return { sockets, reg, maxPending };
}

describe("frame batching (unit)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it("delivers to every socket exactly what one frame per broadcast would, in order, each v once", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 120 }),
        fc.subarray([0, 1, 2, 3, 4], { minLength: 1 }),
        (ops, batching) => {
          vi.setSystemTime(1_000_000);
          const batched = play(ops, new Set(batching));
          vi.clearAllTimers();
          vi.setSystemTime(1_000_000);
          const plain = play(ops, new Set());
          expect(batched.sockets.length).toBe(plain.sockets.length);
          for (let i = 0; i < batched.sockets.length; i++) {
            const got = (batched.sockets[i] as FakeSocket).frames();
            const want = (plain.sockets[i] as FakeSocket).frames();
            // A socket that closed misses what was still queued for it: what it got is a prefix.
            if ((batched.sockets[i] as FakeSocket).readyState === 1) expect(got).toEqual(want);
            else expect(got).toEqual(want.slice(0, got.length));
            const vs = got.flatMap((f) => ("v" in f && f.v !== undefined ? [f.v] : []));
            expect(new Set(vs).size).toBe(vs.length);
            expect(vs).toEqual([...vs].sort((a, b) => a - b));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps the queue within its bound, flushing early when a batch is full", () => {
    const settings = { ...DEFAULT_BATCH, maxFrames: 4 };
    const ops: Op[] = Array.from({ length: 50 }, () => ({ op: "message", author: 0 }));
    const { sockets, maxPending } = play(ops, new Set([1, 2]), settings);
    expect(maxPending).toBeLessThan(4);
    // 50 messages in one instant: the first alone (a quiet room), then full batches of 4, then the rest.
    expect((sockets[1] as FakeSocket).texts.length).toBe(1 + Math.ceil(49 / 4));
    expect((sockets[1] as FakeSocket).frames()).toHaveLength(50);
    expect((sockets[0] as FakeSocket).texts).toHaveLength(50);
  });

  it("sends a quiet room's frames at once and gathers a busy room's per window", () => {
    // 1,500 batching sockets at 15,000 sends/s: a 100 ms window.
    const batcher = new FrameBatcher({
      sockets: () => [],
      count: () => 1500,
      settings: DEFAULT_BATCH,
      now: () => Date.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    });
    expect(batcher.windowMs()).toBe(100);
    expect(batcher.sendNow()).toBe(true); // first frame: at once
    vi.advanceTimersByTime(10);
    expect(batcher.sendNow()).toBe(false); // inside the window: gathered
    batcher.push({ text: "{}", skip: null, hiddenFrom: null, hiddenText: null });
    vi.advanceTimersByTime(89);
    expect(batcher.pending()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(batcher.pending()).toBe(0);
    expect(batcher.stats).toMatchObject({ flushes: 1, frames: 1, immediate: 1 });
    vi.advanceTimersByTime(100);
    expect(batcher.sendNow()).toBe(true); // quiet again
  });

  it("caps the window for huge rooms and floors it for small ones", () => {
    const make = (n: number) =>
      new FrameBatcher({
        sockets: () => [],
        count: () => n,
        settings: DEFAULT_BATCH,
        now: () => 0,
        setTimer: () => null,
        clearTimer: () => undefined,
      });
    expect(make(10).windowMs()).toBe(DEFAULT_BATCH.minWindowMs);
    expect(make(5000).windowMs()).toBe(DEFAULT_BATCH.maxWindowMs);
  });

  it("writes a batch as the frames' own JSON, one frame alone as itself", () => {
    expect(batchText(['{"type":"pong"}'])).toBe('{"type":"pong"}');
    expect(JSON.parse(batchText(['{"a":1}', '{"b":2}']))).toEqual({ type: "batch", frames: [{ a: 1 }, { b: 2 }] });
  });

  it("gathers a busy room into fewer frames for batching sockets", () => {
    // 200 messages 5 ms apart: legacy sockets get 200 frames, batching ones one per window.
    const ops: Op[] = Array.from({ length: 200 }, () => [
      { op: "message", author: 0 } as Op,
      { op: "wait", ms: 5 } as Op,
    ]).flat();
    const settings = { ...DEFAULT_BATCH, minWindowMs: 50 };
    const { sockets } = play(ops, new Set([1]), settings);
    expect((sockets[0] as FakeSocket).texts).toHaveLength(200);
    expect((sockets[1] as FakeSocket).frames()).toHaveLength(200);
    expect((sockets[1] as FakeSocket).texts.length).toBeLessThanOrEqual(21);
  });
});
