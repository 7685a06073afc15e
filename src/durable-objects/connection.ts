/**
 * Per-socket state kept in the WebSocket attachment so it survives hibernation. Ids only:
 * the runtime caps an attachment at 16 KiB.
 */
export interface ConnectionState {
  userId: string;
  connId: string;
  /** Access-token expiry (unix seconds) of the credential the socket was opened with. */
  tokenExpiresAt: number;
  connectedAt: number;
}

export function connectionOf(ws: WebSocket): ConnectionState | null {
  return (ws.deserializeAttachment() as ConnectionState | null) ?? null;
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
