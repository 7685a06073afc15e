import type { DisconnectReason } from "../protocol/room-rpc";

/**
 * Per-socket state kept in the WebSocket attachment so it survives hibernation. Ids only:
 * the runtime caps an attachment at 16 KiB.
 */
export interface ConnectionState {
  userId: string;
  connId: string;
  /** The member's role when the socket opened (kept current by memberChanged). */
  role: "owner" | "admin" | "member";
  /** Access-token expiry (unix seconds); auth.refresh moves it. */
  tokenExpiresAt: number;
  /** auth.expiring was sent for the current expiry. */
  warned: boolean;
  connectedAt: number;
  /** Last client frame (ms), refreshed at most every HEARTBEAT_WRITE_MS to spare attachment writes. */
  lastFrameAt: number;
  /** A resume replay (protocol 1) is in progress: live messages wait for the replay's tail. */
  resuming: boolean;
  /** Protocol 2: catching up on the change log; no live change reaches the socket until it is done. */
  held?: boolean;
  /** The socket's departure was handled (presence announced if it was the user's last). */
  departed?: boolean;
  /** Negotiated `?batch=1` (protocol 2 only): broadcasts may arrive gathered in `batch` frames (frame-batch.ts). */
  batch?: boolean;
  requestId?: string;
}

export function userTag(userId: string): string {
  return `user:${userId}`;
}

/** Close codes for users the worker disconnects: 4001 asks the client to sign in again, 4003 not to retry. */
export const DISCONNECT_CLOSE: Record<DisconnectReason, readonly [number, string]> = {
  logged_out: [4001, "logged out"],
  removed: [4003, "removed from room"],
  banned: [4003, "account suspended"],
  room_banned: [4003, "banned from room"],
};

/**
 * Ends a socket without throwing, reasons capped at 123 bytes. 1005 (no code) and 1006 (abnormal) are
 * never sent: they describe a close that already happened, so there is no handshake left to answer.
 */
export function closeQuietly(ws: WebSocket, code: number, reason = ""): void {
  if (code === 1005 || code === 1006) return;
  let text = reason;
  while (new TextEncoder().encode(text).length > 123) text = text.slice(0, -1);
  try {
    ws.close(code, text);
  } catch {
    // already closed
  }
}
