import type { ServerFrame } from "../protocol/frames";
import type { ConnectionState } from "./connection";
import { type BatchSettings, DEFAULT_BATCH, FrameBatcher } from "./frame-batch";
import { standIn, type Visibility } from "./visibility";

/**
 * The registry that holds each WebSocket object the room has seen, so a frame sent straight to one
 * socket (`send` below, used by every handler) can first flush what a batch window holds for it.
 */
const registryOf = new WeakMap<WebSocket, SocketRegistry>();

export function send(ws: WebSocket, frame: ServerFrame): void {
  registryOf.get(ws)?.beforeDirect(ws);
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // the socket is closing; its close handler cleans up
  }
}

type Entry = { ws: WebSocket; state: ConnectionState };

/**
 * The room's sockets and their state, read from the runtime once per wake-up and kept in memory after.
 * A profile of a 1,000-socket room showed `getWebSockets()` plus decoding every attachment on every
 * broadcast costing over a third of the room's CPU; the attachment stays the durable copy (it is what
 * survives hibernation), this map the working one. Sockets are keyed by connId because the runtime may
 * hand out different WebSocket objects for the same socket.
 *
 * Sockets that negotiated batching (`state.batch`) get broadcasts through a FrameBatcher (frame-batch.ts);
 * the others one frame per broadcast, as before.
 */
export class SocketRegistry {
  private readonly ctx: DurableObjectState;
  private byConn: Map<string, Entry> | null = null;
  private readonly ids = new WeakMap<WebSocket, string>();
  private readonly visibility: Visibility | null;
  /** Sockets catching up (kept in step with their state, so a broadcast need not scan every socket). */
  private readonly held = new Set<string>();
  private readonly resuming = new Set<string>();
  private batching = 0;
  /** userId → sockets not departed (see onlineUsers). */
  private readonly online = new Map<string, number>();
  readonly batcher: FrameBatcher;

  constructor(ctx: DurableObjectState, visibility: Visibility | null = null, batch: BatchSettings = DEFAULT_BATCH) {
    this.ctx = ctx;
    this.visibility = visibility;
    this.batcher = new FrameBatcher({
      sockets: () => this.batchSockets(),
      count: () => this.batching,
      settings: batch,
      now: () => Date.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    });
  }

  private entries(): Map<string, Entry> {
    if (!this.byConn) {
      this.byConn = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const state = ws.deserializeAttachment() as ConnectionState | null;
        if (state) this.track(ws, state);
      }
    }
    return this.byConn;
  }

  private countOnline(userId: string, by: number): void {
    const n = (this.online.get(userId) ?? 0) + by;
    if (n > 0) this.online.set(userId, n);
    else this.online.delete(userId);
  }

  /** Keeps the map, the object→connId index and the catching-up sets in step with one socket's state. */
  private track(ws: WebSocket, state: ConnectionState): void {
    const map = this.byConn as Map<string, Entry>;
    const before = map.get(state.connId)?.state;
    if (before && !before.departed) this.countOnline(before.userId, -1);
    if (!state.departed) this.countOnline(state.userId, 1);
    if (before?.batch && !before.departed) this.batching--;
    map.set(state.connId, { ws, state });
    this.ids.set(ws, state.connId);
    registryOf.set(ws, this);
    if (state.batch && !state.departed) this.batching++;
    if (state.held) this.held.add(state.connId);
    else this.held.delete(state.connId);
    if (state.resuming) this.resuming.add(state.connId);
    else this.resuming.delete(state.connId);
  }

  add(ws: WebSocket, state: ConnectionState): void {
    ws.serializeAttachment(state);
    this.entries();
    this.track(ws, state);
    if (state.batch) this.batcher.joined(state);
  }

  /** State of the socket an event arrived on. */
  of(ws: WebSocket): ConnectionState | null {
    let id = this.ids.get(ws);
    if (!id) {
      const state = ws.deserializeAttachment() as ConnectionState | null;
      if (!state) return null;
      id = state.connId;
      this.ids.set(ws, id);
      if (!this.entries().has(id)) return state;
      registryOf.set(ws, this);
    }
    return this.entries().get(id)?.state ?? null;
  }

  update(ws: WebSocket, patch: Partial<ConnectionState>): ConnectionState | null {
    const current = this.of(ws);
    if (!current) return null;
    const next = { ...current, ...patch };
    try {
      ws.serializeAttachment(next);
    } catch {
      // fully closed: only the in-memory copy can still change
    }
    const entry = this.entries().get(next.connId);
    this.track(entry?.ws ?? ws, next);
    return next;
  }

  remove(ws: WebSocket): void {
    const state = this.of(ws);
    if (!state) return;
    const entry = this.entries().get(state.connId);
    if (entry?.state.batch && !entry.state.departed) this.batching--;
    if (entry && !entry.state.departed) this.countOnline(entry.state.userId, -1);
    this.entries().delete(state.connId);
    this.held.delete(state.connId);
    this.resuming.delete(state.connId);
  }

  /** Open sockets not yet departed, optionally of one user. */
  *live(userId?: string): Generator<[WebSocket, ConnectionState]> {
    for (const { ws, state } of this.entries().values()) {
      if (state.departed || ws.readyState !== WebSocket.OPEN) continue;
      if (userId !== undefined && state.userId !== userId) continue;
      yield [ws, state];
    }
  }

  /**
   * Users with a socket not yet departed, counted as sockets come and go: a busy room's outbox asks on
   * every flush (and every welcome lists them), and probing every socket's readyState each time cost a
   * 1,000-socket room about 1 % of its CPU per delivery (bench:fanout --perf), a connect storm N² probes.
   * A socket that closes is marked departed by its close event (or by whoever closed it).
   */
  onlineUsers(): string[] {
    this.entries();
    return [...this.online.keys()];
  }

  count(): number {
    return this.entries().size;
  }

  private *batchSockets(): Generator<Entry> {
    for (const entry of this.entries().values()) if (entry.state.batch) yield entry;
  }

  /** A frame is about to go straight to `ws`: what its batch window holds for it goes first. */
  beforeDirect(ws: WebSocket): void {
    if (this.batcher.pending() === 0) return;
    const state = this.of(ws);
    if (state?.batch) this.batcher.beforeDirect(ws, state);
  }

  /**
   * One frame to every open socket. Sockets catching up are skipped for what their catch-up ends with:
   * changes for held sockets (protocol 2), messages for resuming ones (protocol 1), so each sees every
   * change (or message) once and in order. Batching sockets get it through the batcher, with the same
   * decisions taken now.
   */
  broadcast(frame: ServerFrame, except?: WebSocket): void {
    const text = JSON.stringify(frame);
    const isMessage = frame.type === "message";
    const isChange = "v" in frame && frame.v !== undefined;
    const exceptId = except ? this.of(except)?.connId : undefined;
    // Members blocking the frame's author get its stand-in instead (computed once, if anyone needs it).
    const hiddenFrom = this.visibility?.hiddenFrom(frame) ?? null;
    let hiddenText: string | null | undefined;
    const hidden = (): string | null => {
      if (hiddenText === undefined) {
        const stand = standIn(frame);
        hiddenText = stand ? JSON.stringify(stand) : null;
      }
      return hiddenText;
    };
    this.entries();
    const batchNow = this.batching > 0 && this.batcher.sendNow();
    if (this.batching > 0 && !batchNow) {
      const skip = new Set<string>(exceptId ? [exceptId] : []);
      if (isChange) for (const id of this.held) skip.add(id);
      if (isMessage) for (const id of this.resuming) skip.add(id);
      this.batcher.push({
        text,
        skip: skip.size > 0 ? skip : null,
        hiddenFrom,
        hiddenText: hiddenFrom ? hidden() : null,
      });
    }
    // The hot loop of a busy room: no generator and no readyState probe per socket (a socket that closed
    // since its last event throws on send, and its close event removes it).
    for (const { ws, state } of (this.byConn as Map<string, Entry>).values()) {
      if (state.departed || state.connId === exceptId) continue;
      if (state.batch && !batchNow) continue;
      if ((isMessage && state.resuming) || (isChange && state.held)) continue;
      let out = text;
      if (hiddenFrom?.has(state.userId)) {
        const stand = hidden();
        if (stand === null) continue;
        out = stand;
      }
      try {
        ws.send(out);
      } catch {
        // closing
      }
    }
  }
}
