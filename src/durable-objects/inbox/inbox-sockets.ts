/**
 * The inbox's device sockets (Hibernation API): per-socket state in the attachment (ids and times only),
 * read once per wake-up and kept in memory after, like the room's SocketRegistry; plus the deadlines the
 * alarm enforces (heartbeat timeout, token warning and expiry), as the room's Heartbeats does.
 */
import type { InboxFrame } from "../../protocol/inbox";
import { closeQuietly } from "../connection";

/** auth.expiring goes out this long before the token expires. */
export const AUTH_WARN_MS = 60_000;

export interface InboxConnection {
  connId: string;
  userId: string;
  /** Access-token expiry (unix seconds); auth.refresh moves it. */
  tokenExpiresAt: number;
  warned: boolean;
  connectedAt: number;
  lastFrameAt: number;
  /** The device has its snapshot (or its catch-up): deltas go to it from now on. */
  ready: boolean;
  departed?: boolean;
  requestId?: string;
}

export function sendFrame(ws: WebSocket, frame: InboxFrame | string): void {
  try {
    ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  } catch {
    // closing; its close handler cleans up
  }
}

export class InboxSockets {
  private readonly ctx: DurableObjectState;
  private byConn: Map<string, { ws: WebSocket; state: InboxConnection }> | null = null;
  private readonly ids = new WeakMap<WebSocket, string>();

  constructor(ctx: DurableObjectState) {
    this.ctx = ctx;
  }

  private entries(): Map<string, { ws: WebSocket; state: InboxConnection }> {
    if (!this.byConn) {
      this.byConn = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const state = ws.deserializeAttachment() as InboxConnection | null;
        if (!state) continue;
        this.byConn.set(state.connId, { ws, state });
        this.ids.set(ws, state.connId);
      }
    }
    return this.byConn;
  }

  add(ws: WebSocket, state: InboxConnection): void {
    ws.serializeAttachment(state);
    this.entries().set(state.connId, { ws, state });
    this.ids.set(ws, state.connId);
  }

  of(ws: WebSocket): InboxConnection | null {
    let id = this.ids.get(ws);
    if (!id) {
      const state = ws.deserializeAttachment() as InboxConnection | null;
      if (!state) return null;
      id = state.connId;
      this.ids.set(ws, id);
      if (!this.entries().has(id)) return state;
    }
    return this.entries().get(id)?.state ?? null;
  }

  update(ws: WebSocket, patch: Partial<InboxConnection>): InboxConnection | null {
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

  *live(): Generator<[WebSocket, InboxConnection]> {
    for (const { ws, state } of this.entries().values()) {
      if (state.departed || ws.readyState !== WebSocket.OPEN) continue;
      yield [ws, state];
    }
  }

  count(): number {
    let n = 0;
    for (const _ of this.live()) n++;
    return n;
  }

  /** A delta (JSON text) to every device that has its snapshot. */
  broadcast(text: string): void {
    for (const { ws, state } of this.entries().values()) {
      if (state.departed || !state.ready) continue;
      sendFrame(ws, text);
    }
  }

  // --- deadlines ------------------------------------------------------------------------------------------

  /** The earliest time the alarm must look at the sockets, or null when there are none. */
  nextDeadline(timeoutMs: number): number | null {
    let next: number | null = null;
    for (const [ws, conn] of this.live()) {
      const expiresAt = conn.tokenExpiresAt * 1000;
      const at = Math.min(conn.warned ? expiresAt : expiresAt - AUTH_WARN_MS, this.lastSeen(ws, conn) + timeoutMs);
      next = next === null ? at : Math.min(next, at);
    }
    return next;
  }

  /** Closes silent sockets (1001) and expired tokens (4001); warns a minute before expiry. Answers the closed. */
  sweep(now: number, timeoutMs: number): WebSocket[] {
    const closed: WebSocket[] = [];
    for (const [ws, conn] of this.live()) {
      if (now - this.lastSeen(ws, conn) > timeoutMs) {
        closeQuietly(ws, 1001, "heartbeat timeout");
        closed.push(ws);
        continue;
      }
      const expiresAt = conn.tokenExpiresAt * 1000;
      if (expiresAt <= now) {
        closeQuietly(ws, 4001, "token expired");
        closed.push(ws);
      } else if (!conn.warned && expiresAt - now <= AUTH_WARN_MS) {
        sendFrame(ws, { type: "auth.expiring", expiresAt: conn.tokenExpiresAt });
        this.update(ws, { warned: true });
      }
    }
    return closed;
  }

  /** Latest sign of life: a frame, or a ping the runtime answered without waking us. */
  private lastSeen(ws: WebSocket, conn: InboxConnection): number {
    const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(conn.connectedAt, conn.lastFrameAt, pinged);
  }
}
