import type { ServerFrame } from "../protocol/frames";
import type { ConnectionState } from "./connection";
import { standIn, type Visibility } from "./visibility";

export function send(ws: WebSocket, frame: ServerFrame): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // the socket is closing; its close handler cleans up
  }
}

/**
 * The room's sockets and their state, read from the runtime once per wake-up and kept in memory after.
 * A profile of a 1,000-socket room showed `getWebSockets()` plus decoding every attachment on every
 * broadcast costing over a third of the room's CPU; the attachment stays the durable copy (it is what
 * survives hibernation), this map the working one. Sockets are keyed by connId because the runtime may
 * hand out different WebSocket objects for the same socket.
 */
export class SocketRegistry {
  private readonly ctx: DurableObjectState;
  private byConn: Map<string, { ws: WebSocket; state: ConnectionState }> | null = null;
  private readonly ids = new WeakMap<WebSocket, string>();
  private readonly visibility: Visibility | null;

  constructor(ctx: DurableObjectState, visibility: Visibility | null = null) {
    this.ctx = ctx;
    this.visibility = visibility;
  }

  private entries(): Map<string, { ws: WebSocket; state: ConnectionState }> {
    if (!this.byConn) {
      this.byConn = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const state = ws.deserializeAttachment() as ConnectionState | null;
        if (state) {
          this.byConn.set(state.connId, { ws, state });
          this.ids.set(ws, state.connId);
        }
      }
    }
    return this.byConn;
  }

  add(ws: WebSocket, state: ConnectionState): void {
    ws.serializeAttachment(state);
    this.entries().set(state.connId, { ws, state });
    this.ids.set(ws, state.connId);
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
    this.entries().set(next.connId, { ws: entry?.ws ?? ws, state: next });
    return next;
  }

  remove(ws: WebSocket): void {
    const state = this.of(ws);
    if (state) this.entries().delete(state.connId);
  }

  /** Open sockets not yet departed, optionally of one user. */
  *live(userId?: string): Generator<[WebSocket, ConnectionState]> {
    for (const { ws, state } of this.entries().values()) {
      if (state.departed || ws.readyState !== WebSocket.OPEN) continue;
      if (userId !== undefined && state.userId !== userId) continue;
      yield [ws, state];
    }
  }

  onlineUsers(): string[] {
    const users = new Set<string>();
    for (const [, state] of this.live()) users.add(state.userId);
    return [...users];
  }

  count(): number {
    return this.entries().size;
  }

  /**
   * One frame to every open socket. Sockets catching up are skipped for what their catch-up ends with:
   * changes for held sockets (protocol 2), messages for resuming ones (protocol 1), so each sees every
   * change (or message) once and in order.
   */
  broadcast(frame: ServerFrame, except?: WebSocket): void {
    const text = JSON.stringify(frame);
    const isMessage = frame.type === "message";
    const isChange = "v" in frame && frame.v !== undefined;
    const exceptId = except ? this.of(except)?.connId : undefined;
    // Members blocking the frame's author get its stand-in instead (computed once, if anyone needs it).
    const hiddenFrom = this.visibility?.hiddenFrom(frame) ?? null;
    let hiddenText: string | null | undefined;
    // The hot loop of a busy room: no generator and no readyState probe per socket (a socket that closed
    // since its last event throws on send, and its close event removes it).
    for (const { ws, state } of this.entries().values()) {
      if (state.departed || state.connId === exceptId) continue;
      if ((isMessage && state.resuming) || (isChange && state.held)) continue;
      let out = text;
      if (hiddenFrom?.has(state.userId)) {
        if (hiddenText === undefined) {
          const stand = standIn(frame);
          hiddenText = stand ? JSON.stringify(stand) : null;
        }
        if (hiddenText === null) continue;
        out = hiddenText;
      }
      try {
        ws.send(out);
      } catch {
        // closing
      }
    }
  }
}
