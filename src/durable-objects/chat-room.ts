import { DurableObject } from "cloudflare:workers";
import { createRedis } from "../lib/redis";
import { clientFrame, PING_FRAME, PONG_FRAME, type ServerFrame } from "../protocol/frames";
import { type ConnectionState, closeQuietly, connectionOf, userTag } from "./connection";
import { IDENTITY_HEADERS } from "./identity";
import { RecentBuffer } from "./recent-buffer";

/** Frames above this close the socket with 1009 (message too big). */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * One object per chat room: it holds the room's sockets with the Hibernation API (so an idle room costs
 * nothing) and is the single writer of the room's state. Everything per socket lives in the attachment;
 * everything per room in the object's SQLite storage, so a woken object needs no rebuild step.
 */
export class ChatRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get(IDENTITY_HEADERS.userId);
    const roomId = request.headers.get(IDENTITY_HEADERS.roomId);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !roomId) {
      // Only the worker talks to this object, always with identity; anything else is a bug upstream.
      return new Response("expected an authenticated WebSocket upgrade from the worker", { status: 400 });
    }
    this.rememberRoomId(roomId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const firstSocketOfUser = this.ctx.getWebSockets(userTag(userId)).length === 0;
    this.ctx.acceptWebSocket(server, [userTag(userId)]);
    const state: ConnectionState = {
      userId,
      connId: crypto.randomUUID(),
      tokenExpiresAt: Number(request.headers.get(IDENTITY_HEADERS.tokenExpiresAt) ?? 0),
      connectedAt: Date.now(),
    };
    server.serializeAttachment(state);
    send(server, { type: "welcome", roomId, lastSeq: this.lastSeq(), online: this.onlineUsers(), you: userId });
    if (firstSocketOfUser) this.broadcast({ type: "presence", userId, state: "joined" }, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const conn = connectionOf(ws);
    if (!conn) return closeQuietly(ws, 1011, "missing connection state");
    if (typeof message !== "string") {
      return send(ws, { type: "error", code: "bad_frame", message: "binary frames are not supported; send JSON text" });
    }
    if (message.length > MAX_FRAME_BYTES || new TextEncoder().encode(message).length > MAX_FRAME_BYTES) {
      return closeQuietly(ws, 1009, "frame too large");
    }
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return send(ws, { type: "error", code: "bad_frame", message: "frame is not valid JSON" });
    }
    const parsed = clientFrame.safeParse(json);
    if (!parsed.success) {
      const type = (json as { type?: unknown } | null)?.type;
      const known = clientFrame.options.some((o) => o.shape.type.value === type);
      return send(ws, {
        type: "error",
        code: known ? "bad_frame" : "unknown_frame_type",
        message: known
          ? parsed.error.issues.map((i) => `${i.path.join(".") || "frame"}: ${i.message}`).join("; ")
          : `unknown frame type: ${String(type)}`,
      });
    }
    const frame = parsed.data;
    switch (frame.type) {
      case "ping":
        return send(ws, { type: "pong" });
      case "typing":
        // Typing is never stored; clients expire it themselves if no update follows.
        return this.broadcast({ type: "typing", userId: conn.userId, on: frame.on }, ws);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code, reason);
    this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.onSocketGone(ws);
  }

  /** The room's recent-message buffer in Redis, or null when Redis is not configured. */
  recentBuffer(): RecentBuffer | null {
    const redis = createRedis(this.env, { retries: 1, timeoutMs: 2000 });
    const roomId = this.roomId();
    if (!redis || !roomId) return null;
    return new RecentBuffer(redis, roomId, {
      size: Number(this.env.RECENT_BUFFER_SIZE),
      ttlSeconds: Number(this.env.RECENT_BUFFER_TTL_SECONDS),
    });
  }

  /** RPC: live figures for inspection (admin API and tests). */
  async stats(): Promise<{
    roomId: string | null;
    lastSeq: number;
    sockets: number;
    online: string[];
    buffer: { min: number; max: number; count: number } | null;
  }> {
    const buffer = this.recentBuffer();
    return {
      roomId: this.roomId(),
      lastSeq: this.lastSeq(),
      sockets: this.ctx.getWebSockets().length,
      online: this.onlineUsers(),
      buffer: buffer ? await buffer.bounds().catch(() => null) : null,
    };
  }

  private onSocketGone(ws: WebSocket): void {
    const conn = connectionOf(ws);
    if (!conn) return;
    const stillHere = this.ctx
      .getWebSockets(userTag(conn.userId))
      .some((s) => s !== ws && s.readyState === WebSocket.OPEN);
    if (!stillHere) this.broadcast({ type: "presence", userId: conn.userId, state: "left" }, ws);
  }

  private onlineUsers(): string[] {
    const users = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      const conn = connectionOf(ws);
      if (conn && ws.readyState === WebSocket.OPEN) users.add(conn.userId);
    }
    return [...users];
  }

  private broadcast(frame: ServerFrame, except?: WebSocket): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      if (ws !== except && ws.readyState === WebSocket.OPEN) {
        try {
          ws.send(text);
        } catch {
          // a socket closing under us; its close handler cleans up
        }
      }
    }
  }

  private rememberRoomId(roomId: string): void {
    if (this.ctx.storage.kv.get("roomId") !== roomId) this.ctx.storage.kv.put("roomId", roomId);
  }

  private roomId(): string | null {
    return (this.ctx.storage.kv.get("roomId") as string | undefined) ?? null;
  }

  private lastSeq(): number {
    return (this.ctx.storage.kv.get("lastSeq") as number | undefined) ?? 0;
  }
}

function send(ws: WebSocket, frame: ServerFrame): void {
  ws.send(JSON.stringify(frame));
}
