import type { ServerFrame } from "../protocol/frames";
import { type ConnectionState, connectionOf } from "./connection";

export function send(ws: WebSocket, frame: ServerFrame): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // the socket is closing; its close handler cleans up
  }
}

/** Open sockets with their state; sockets without state (never fully accepted) are skipped. */
export function* liveSockets(ctx: DurableObjectState, tag?: string): Generator<[WebSocket, ConnectionState]> {
  for (const ws of ctx.getWebSockets(tag)) {
    if (ws.readyState !== WebSocket.OPEN) continue;
    const conn = connectionOf(ws);
    if (conn && !conn.departed) yield [ws, conn];
  }
}

export function onlineUsers(ctx: DurableObjectState): string[] {
  const users = new Set<string>();
  for (const [, conn] of liveSockets(ctx)) users.add(conn.userId);
  return [...users];
}

/**
 * Sends one frame to every open socket. Sockets replaying history (resuming) are skipped for messages:
 * their replay ends with everything accepted meanwhile, so they see each seq once and in order.
 */
export function broadcast(ctx: DurableObjectState, frame: ServerFrame, except?: WebSocket): void {
  const text = JSON.stringify(frame);
  const isMessage = frame.type === "message";
  for (const [ws, conn] of liveSockets(ctx)) {
    if (ws === except || (isMessage && conn.resuming)) continue;
    try {
      ws.send(text);
    } catch {
      // closing
    }
  }
}
