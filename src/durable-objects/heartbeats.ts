/**
 * Sockets' deadlines: the auth warning a minute before the token expires, the close when it has
 * expired, and the close of a socket that has shown no sign of life for the heartbeat timeout.
 */
import type { ConnectionState } from "./connection";
import { closeQuietly } from "./connection";
import type { SocketRegistry } from "./sockets";
import { send } from "./sockets";

/** auth.expiring goes out this long before the token expires. */
export const AUTH_WARN_MS = 60_000;

export interface HeartbeatDeps {
  ctx: DurableObjectState;
  sockets: SocketRegistry;
  timeoutMs: () => number;
  /** A socket the sweep closed: announce the departure. */
  gone: (ws: WebSocket) => void;
}

export class Heartbeats {
  private readonly deps: HeartbeatDeps;

  constructor(deps: HeartbeatDeps) {
    this.deps = deps;
  }

  /** When the alarm must next look at this socket: its auth warning or expiry, and its heartbeat timeout. */
  deadlines(ws: WebSocket, conn: ConnectionState): [number, number] {
    const expiresAt = conn.tokenExpiresAt * 1000;
    return [conn.warned ? expiresAt : expiresAt - AUTH_WARN_MS, this.lastSeen(ws, conn) + this.deps.timeoutMs()];
  }

  allDeadlines(): number[] {
    const times: number[] = [];
    for (const [ws, conn] of this.deps.sockets.live()) times.push(...this.deadlines(ws, conn));
    return times;
  }

  sweep(now: number): void {
    const { sockets, timeoutMs, gone } = this.deps;
    for (const [ws, conn] of sockets.live()) {
      if (now - this.lastSeen(ws, conn) > timeoutMs()) {
        closeQuietly(ws, 1001, "heartbeat timeout");
        gone(ws);
        continue;
      }
      const expiresAt = conn.tokenExpiresAt * 1000;
      if (expiresAt <= now) closeQuietly(ws, 4001, "token expired");
      else if (!conn.warned && expiresAt - now <= AUTH_WARN_MS) {
        send(ws, { type: "auth.expiring", expiresAt: conn.tokenExpiresAt });
        sockets.update(ws, { warned: true });
      }
    }
  }

  /** Latest sign of life: a frame, or a ping the runtime answered without waking us. */
  private lastSeen(ws: WebSocket, conn: ConnectionState): number {
    const pinged = this.deps.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(conn.connectedAt, conn.lastFrameAt, pinged);
  }
}
