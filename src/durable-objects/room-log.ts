/**
 * The room's life as structured log lines (one JSON object each, at info): connects, disconnects,
 * throttled sends, refused frames and accepted messages, with the request id carried from the upgrade so
 * a socket's lines join the worker's. Never bodies or tokens: a body is logged by its length only.
 */
import { logJson } from "../lib/log";
import type { ConnectionState } from "./connection";

export type AuthMethod = "ticket" | "bearer";

type Who = Pick<ConnectionState, "userId" | "connId" | "requestId">;

function who(conn: Who): Record<string, unknown> {
  return { userId: conn.userId, connId: conn.connId, ...(conn.requestId ? { requestId: conn.requestId } : {}) };
}

export const roomLog = {
  connected(roomId: string | null, conn: Who, auth: AuthMethod): void {
    logJson("info", { msg: "socket connected", roomId, ...who(conn), auth });
  },
  disconnected(roomId: string | null, conn: ConnectionState, code: number, reason: string, now: number): void {
    logJson("info", {
      msg: "socket disconnected",
      roomId,
      ...who(conn),
      code,
      reason: reason.slice(0, 123),
      durationMs: now - conn.connectedAt,
    });
  },
  throttled(roomId: string | null, conn: Who, retryAfterMs: number): void {
    logJson("info", { msg: "send throttled", roomId, ...who(conn), retryAfterMs });
  },
  refused(roomId: string | null, conn: Who, code: string): void {
    logJson("info", { msg: "frame refused", roomId, ...who(conn), code });
  },
  accepted(roomId: string | null, conn: Who, seq: number, bodyLength: number, commitMs: number): void {
    logJson("info", { msg: "message accepted", roomId, ...who(conn), seq, bodyLength, commitMs });
  },
};
