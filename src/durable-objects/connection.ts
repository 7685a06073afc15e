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
  /** A resume replay is in progress: live messages wait for the replay's tail. */
  resuming: boolean;
  /** The socket's departure was handled (presence announced if it was the user's last). */
  departed?: boolean;
  requestId?: string;
}

export function userTag(userId: string): string {
  return `user:${userId}`;
}

/** Ends a socket without throwing: 1005/1006 are reserved (cannot be sent) and reasons are capped at 123 bytes. */
export function closeQuietly(ws: WebSocket, code: number, reason = ""): void {
  const safe = code === 1005 || code === 1006 ? 1000 : code;
  let text = reason;
  while (new TextEncoder().encode(text).length > 123) text = text.slice(0, -1);
  try {
    ws.close(safe, text);
  } catch {
    // already closed
  }
}
