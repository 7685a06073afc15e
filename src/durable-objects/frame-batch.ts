/**
 * Batching for busy rooms. Sockets that asked for it (`?batch=1`, protocol 2 only) get the frames a room
 * broadcasts gathered per short window into one `batch {frames: [...]}` frame, so a room sending M
 * messages/s to N sockets pays about N sends per window instead of N × M. A workerd WebSocket `send`
 * costs the same for a 200-byte frame as for a 2 KB one (measured: docs/benchmarks.md), so past a point
 * the number of sends, not the bytes, is what a room can afford.
 *
 * The window follows the load instead of adding latency to a quiet room: a frame after a quiet spell
 * (nothing sent to batching sockets for a window) goes out at once; while frames keep coming, they are
 * gathered until the window since the last flush has passed. The window is what keeps the room's
 * batched sends under `sendsPerSecond`: N sockets × (1000 / window) flushes per second, so it grows with
 * the room (clamped to [minWindowMs, maxWindowMs]). A batch is flushed early once it holds `maxFrames`
 * frames or `maxBytes` of text, so the queue is bounded; nothing is ever dropped.
 *
 * Exactness. Each socket receives, once a batch is unpacked, exactly the frames it would have received
 * one by one, in the same order:
 * - who gets a frame (held and resuming sockets skip what their catch-up covers, the sender of typing
 *   skips its own, a viewer blocking the author gets the `hidden` stand-in, a socket that opens later
 *   gets none of what was queued before it) is decided when the frame is queued, from the socket's
 *   state at that moment, as the unbatched broadcast decides it;
 * - a frame sent straight to one socket (an ack, a catch-up frame, `synced`, an error) first flushes
 *   what is queued for that socket (`beforeDirect`), so it can never overtake an earlier broadcast.
 * Frames still queued for a socket that closes are not sent (it is gone). The queue lives in memory and a
 * timer. Nothing is lost with it: the runtime does not evict or hibernate an object with a timer pending
 * (an eviction waits for the window to end), and an object that is reset instead (a crash, an abort)
 * loses its sockets with it (they close with 1006), so their clients reconnect and catch up from the
 * version they have. Only protocol 2 clients may batch, as only they can catch up on every change.
 */
import type { ConnectionState } from "./connection";

export interface BatchSettings {
  /** Budget of batched sends per second for the room: sets the window (sockets × 1000 / this, in ms). */
  sendsPerSecond: number;
  minWindowMs: number;
  maxWindowMs: number;
  /** A batch is sent early at this many frames... */
  maxFrames: number;
  /** ...or this much JSON text (UTF-16 code units, close to bytes for chat text). */
  maxChars: number;
}

export const DEFAULT_BATCH: BatchSettings = {
  sendsPerSecond: 15_000,
  minWindowMs: 5,
  maxWindowMs: 200,
  maxFrames: 100,
  maxChars: 256 * 1024,
};

/** What a socket of the batch needs: its WebSocket and its state as the registry keeps it. */
export interface BatchSocket {
  ws: WebSocket;
  state: ConnectionState;
}

/** One broadcast frame waiting in the window, with who gets what decided when it was queued. */
export interface QueuedFrame {
  text: string;
  /** connIds that get nothing (the typing sender, sockets catching up on what this frame is). */
  skip: ReadonlySet<string> | null;
  /** userIds that get `hiddenText` instead (they block the author); null hiddenText: nothing. */
  hiddenFrom: ReadonlySet<string> | null;
  hiddenText: string | null;
}

export interface BatcherDeps {
  /** Every open socket that batches (departed ones are skipped here). */
  sockets: () => Iterable<BatchSocket>;
  /** How many sockets batch (sets the window). */
  count: () => number;
  settings: BatchSettings;
  now: () => number;
  /** Timers: injectable so unit tests run the windows by hand. */
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

/** The text of several frames as one: `{"type":"batch","frames":[…]}` (each frame's own JSON, unchanged). */
export function batchText(texts: readonly string[]): string {
  return texts.length === 1 ? (texts[0] as string) : `{"type":"batch","frames":[${texts.join(",")}]}`;
}

function safeSend(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // closing: its close handler cleans up
  }
}

export class FrameBatcher {
  private readonly deps: BatcherDeps;
  /** Public so tests can widen the window to make batching deterministic. */
  settings: BatchSettings;
  private queue: QueuedFrame[] = [];
  private chars = 0;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private timer: unknown = null;
  /** connId → how many queued frames it already received (flushed early, before a direct frame). */
  private readonly sentUpTo = new Map<string, number>();
  /** Counters for inspection and tests: flushes and the frames they carried. */
  readonly stats = { flushes: 0, frames: 0, immediate: 0 };

  constructor(deps: BatcherDeps) {
    this.deps = deps;
    this.settings = deps.settings;
  }

  windowMs(): number {
    const s = this.settings;
    const ms = (this.deps.count() * 1000) / s.sendsPerSecond;
    return Math.min(s.maxWindowMs, Math.max(s.minWindowMs, ms));
  }

  pending(): number {
    return this.queue.length;
  }

  /**
   * Whether a broadcast frame may go to the batching sockets at once (a quiet room): true also marks
   * the window as started, so frames right behind it are gathered.
   */
  sendNow(): boolean {
    const now = this.deps.now();
    if (this.queue.length > 0 || now < this.lastFlushAt + this.windowMs()) return false;
    this.lastFlushAt = now;
    this.stats.immediate++;
    return true;
  }

  /** Queues a broadcast frame for the window; flushes early once the batch is full. */
  push(frame: QueuedFrame): void {
    this.queue.push(frame);
    this.chars += frame.text.length;
    const s = this.settings;
    if (this.queue.length >= s.maxFrames || this.chars >= s.maxChars) {
      this.flush();
      return;
    }
    if (this.timer === null) {
      const wait = Math.max(0, this.lastFlushAt + this.windowMs() - this.deps.now());
      this.timer = this.deps.setTimer(() => {
        this.timer = null;
        this.flush();
      }, wait);
    }
  }

  /** Sends what is queued to every batching socket, one frame each. */
  flush(): void {
    if (this.timer !== null) {
      this.deps.clearTimer(this.timer);
      this.timer = null;
    }
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    this.chars = 0;
    this.lastFlushAt = this.deps.now();
    this.stats.flushes++;
    this.stats.frames += queue.length;
    // Sockets that need their own list: someone skipped, someone flushed early; users hidden from.
    const ownConns = new Set<string>(this.sentUpTo.keys());
    const ownUsers = new Set<string>();
    for (const q of queue) {
      if (q.skip) for (const id of q.skip) ownConns.add(id);
      if (q.hiddenFrom) for (const id of q.hiddenFrom) ownUsers.add(id);
    }
    const common = batchText(queue.map((q) => q.text));
    for (const { ws, state } of this.deps.sockets()) {
      if (state.departed) continue;
      if (ownConns.has(state.connId) || ownUsers.has(state.userId)) {
        const text = this.textFor(queue, state, this.sentUpTo.get(state.connId) ?? 0);
        if (text !== null) safeSend(ws, text);
      } else {
        safeSend(ws, common);
      }
    }
    this.sentUpTo.clear();
  }

  /** A socket that joins now has seen nothing queued before it (those frames were never its to get). */
  joined(state: ConnectionState): void {
    if (this.queue.length > 0) this.sentUpTo.set(state.connId, this.queue.length);
  }

  /** Before a frame goes straight to this socket: what is queued for it goes first. */
  beforeDirect(ws: WebSocket, state: ConnectionState): void {
    if (this.queue.length === 0) return;
    const from = this.sentUpTo.get(state.connId) ?? 0;
    if (from >= this.queue.length) return;
    this.sentUpTo.set(state.connId, this.queue.length);
    const text = this.textFor(this.queue, state, from);
    if (text !== null) safeSend(ws, text);
  }

  /** The socket's share of `queue` from index `from`, as one frame's text, or null when it gets none. */
  private textFor(queue: readonly QueuedFrame[], state: ConnectionState, from: number): string | null {
    const texts: string[] = [];
    for (let i = from; i < queue.length; i++) {
      const q = queue[i] as QueuedFrame;
      if (q.skip?.has(state.connId)) continue;
      if (q.hiddenFrom?.has(state.userId)) {
        if (q.hiddenText !== null) texts.push(q.hiddenText);
        continue;
      }
      texts.push(q.text);
    }
    return texts.length === 0 ? null : batchText(texts);
  }

  /** Storage was wiped or the room is going away: nothing queued may go out. */
  drop(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    this.timer = null;
    this.queue = [];
    this.chars = 0;
    this.sentUpTo.clear();
  }
}
