import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { withDeadline } from "../lib/deadline";
import { verifyAccessToken } from "../lib/jwt";
import { setLogLevel } from "../lib/log";
import { maybeFlushMetrics } from "../lib/metrics";
import { RecentBuffer } from "../lib/recent-buffer";
import { redisConfigured, withRedis } from "../lib/redis";
import { type AttachmentRef, type ClientFrame, PING_FRAME, PONG_FRAME } from "../protocol/frames";
import { type Actor, IDENTITY_HEADERS, type Role } from "../protocol/identity";
import type { CommandResult, DisconnectReason, RoomCommand, RoomStats } from "../protocol/room-rpc";
import { AlarmClock } from "./alarm-clock";
import { BufferWriter } from "./buffer-writer";
import { runCommand } from "./commands";
import { type ConnectionState, closeQuietly, DISCONNECT_CLOSE, userTag } from "./connection";
import { guarded } from "./error-path";
import { commandRef, internalError, parseFrame, replyFor } from "./frame-dispatch";
import { Heartbeats } from "./heartbeats";
import { OutboxFlusher, PG_TIMEOUT_MS } from "./outbox-flusher";
import { PresenceAnnouncer } from "./presence";
import { resume } from "./resume";
import { RoomEffects } from "./room-effects";
import { type AuthMethod, roomLog } from "./room-log";
import { roomSettings } from "./room-settings";
import { RoomStore } from "./room-store";
import { SocketRegistry, send } from "./sockets";

/** Per-socket lastFrameAt is rewritten at most this often, to spare attachment writes. */
const HEARTBEAT_WRITE_MS = 30_000;

/**
 * One object per chat room and the single writer of everything in it. This file is the object's wiring:
 * commands (commands/) decide, RoomEffects applies what they decided once committed, frame-dispatch
 * parses and answers frames, AlarmClock owns the one alarm. Sockets use the Hibernation API; per-socket
 * state lives in the attachment and per-room state in SQLite, so a woken object needs no rebuild. A
 * message is acknowledged once it is in SQLite (the output gate holds the ack until the write is
 * durable); Postgres, Redis and the queue are fed afterwards from the outbox.
 */
export class ChatRoom extends DurableObject<Env> {
  private readonly store: RoomStore;
  /** The room's sockets and their state (public so tests can age a socket's heartbeat). */
  readonly sockets: SocketRegistry;
  private readonly alarms: AlarmClock;
  private readonly outbox: OutboxFlusher;
  private readonly presence: PresenceAnnouncer;
  private readonly heartbeats: Heartbeats;
  private readonly effects: RoomEffects;
  private cachedRoomId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    setLogLevel(env.LOG_LEVEL);
    this.store = new RoomStore(ctx.storage);
    this.sockets = new SocketRegistry(ctx);
    this.alarms = new AlarmClock(ctx.storage, this.store);
    const arm = (at: number) => this.alarms.arm(at);
    this.outbox = new OutboxFlusher({
      store: this.store,
      env: () => this.env,
      roomId: () => this.roomId(),
      onlineUsers: () => this.sockets.onlineUsers(),
      armAlarm: arm,
    });
    this.presence = new PresenceAnnouncer({
      store: this.store,
      sockets: this.sockets,
      windowMs: () => this.settings().presenceWindowMs,
      armAlarm: arm,
    });
    this.heartbeats = new Heartbeats({
      ctx,
      sockets: this.sockets,
      timeoutMs: () => this.settings().heartbeatTimeoutMs,
      gone: (ws) => this.onSocketGone(ws),
    });
    const buffer = new BufferWriter({
      enabled: () => redisConfigured(this.env),
      withBuffer: (fn) => this.withBuffer(fn),
      roomId: () => this.roomId(),
    });
    this.effects = new RoomEffects({ sockets: this.sockets, buffer, outbox: this.outbox });
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // --- connecting ---------------------------------------------------------------------------------

  override fetch(request: Request): Promise<Response> {
    return guarded("fetch", this.roomId(), () => this.acceptSocket(request), {
      fallback: (incident) =>
        Response.json({ error: { code: "internal", message: `room error (incident ${incident})` } }, { status: 500 }),
    });
  }

  private async acceptSocket(request: Request): Promise<Response> {
    const h = (name: string) => request.headers.get(name);
    const userId = h(IDENTITY_HEADERS.userId);
    const roomId = h(IDENTITY_HEADERS.roomId);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !roomId) {
      // Only the worker talks to this object, always with identity; anything else is a bug upstream.
      return new Response("expected an authenticated WebSocket upgrade from the worker", { status: 400 });
    }
    this.learnRoomId(roomId);
    const now = Date.now();
    const ticketId = h(IDENTITY_HEADERS.ticketId);
    if (ticketId && !this.store.useTicket(ticketId, Number(h(IDENTITY_HEADERS.ticketExpiresAt)) * 1000, now)) {
      return Response.json({ error: { code: "unauthorized", message: "ticket already used" } }, { status: 401 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const firstSocketOfUser = this.sockets.live(userId).next().done === true;
    // Tagged per user so operators' tools can address one user's sockets without waking every attachment.
    this.ctx.acceptWebSocket(server, [userTag(userId)]);
    const requestId = h(IDENTITY_HEADERS.requestId);
    const state: ConnectionState = {
      userId,
      connId: crypto.randomUUID(),
      role: (h(IDENTITY_HEADERS.role) as Role | null) ?? "member",
      tokenExpiresAt: Number(h(IDENTITY_HEADERS.tokenExpiresAt) ?? 0),
      warned: false,
      connectedAt: now,
      lastFrameAt: now,
      resuming: false,
      ...(requestId ? { requestId } : {}),
    };
    this.sockets.add(server, state);
    send(server, {
      type: "welcome",
      roomId,
      lastSeq: this.store.lastSeq(),
      online: this.sockets.onlineUsers(),
      you: userId,
    });
    if (firstSocketOfUser) this.presence.changed(userId, "joined", server, now);
    roomLog.connected(roomId, state, (ticketId ? "ticket" : "bearer") satisfies AuthMethod);
    // Only this socket's deadlines can be new: bringing the alarm forward to them is enough, and spares a
    // connect storm a scan of every socket per connect.
    this.alarms.arm(Math.max(Math.min(...this.heartbeats.deadlines(server, state)), now + 50));
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- frames -----------------------------------------------------------------------------------------

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let ref = "frame";
    await guarded("webSocketMessage", this.roomId(), () => this.onFrame(ws, message, (r) => (ref = r)), {
      fallback: (incident) => send(ws, internalError(ref, incident)),
      context: () => ({ ref, connId: this.sockets.of(ws)?.connId }),
    });
  }

  private async onFrame(ws: WebSocket, message: string | ArrayBuffer, setRef: (ref: string) => void): Promise<void> {
    const conn = this.sockets.of(ws);
    if (!conn) return closeQuietly(ws, 1011, "missing connection state");
    const now = Date.now();
    if (now - conn.lastFrameAt > HEARTBEAT_WRITE_MS) this.sockets.update(ws, { lastFrameAt: now });
    const parsed = parseFrame(message);
    if (parsed.kind === "close") return closeQuietly(ws, parsed.code, parsed.reason);
    if (parsed.kind === "refused") {
      roomLog.refused(this.roomId(), conn, parsed.reply.code);
      return send(ws, parsed.reply);
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case "ping":
        return send(ws, { type: "pong" });
      case "typing":
        // Typing is never stored; clients expire it themselves if no update follows.
        return this.sockets.broadcast({ type: "typing", userId: conn.userId, on: frame.on }, ws);
      case "resume":
        setRef("resume");
        return this.replay(ws, frame.lastSeq);
      case "auth.refresh":
        setRef("auth.refresh");
        return this.refreshAuth(ws, conn, frame.token);
      default:
        return this.commandFromSocket(ws, conn, frame, setRef);
    }
  }

  private commandFromSocket(
    ws: WebSocket,
    conn: ConnectionState,
    frame: Extract<ClientFrame, RoomCommand>,
    setRef: (ref: string) => void,
  ): void {
    setRef(commandRef(frame));
    const actor: Actor = {
      roomId: this.roomId() ?? "",
      userId: conn.userId,
      role: conn.role,
      ...(conn.requestId ? { requestId: conn.requestId } : {}),
    };
    const started = Date.now();
    const result = this.apply(actor, frame);
    const reply = replyFor(frame, result);
    if (reply) send(ws, reply);
    if (result.status === "accepted") {
      roomLog.accepted(actor.roomId, conn, result.message.seq, result.message.body?.length ?? 0, Date.now() - started);
    } else if (result.status === "throttled") {
      roomLog.throttled(actor.roomId, conn, result.retryAfterMs);
      this.closeIfAbusive(ws, conn);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // The runtime already answered the close (web_socket_auto_reply_to_close, on since 2026-04-07).
    await guarded("webSocketClose", this.roomId(), () => this.onClosed(ws, code, reason));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await guarded("webSocketError", this.roomId(), () => this.onClosed(ws, 1006, "error"));
  }

  private onClosed(ws: WebSocket, code: number, reason: string): void {
    const conn = this.sockets.of(ws);
    if (conn) roomLog.disconnected(this.roomId(), conn, code, reason, Date.now());
    this.onSocketGone(ws);
    this.sockets.remove(ws);
  }

  // --- commands: one code path for WebSocket frames and REST (RPC) ----------------------------------

  /** RPC: a member's command through REST. WebSocket frames take the same path. */
  command(actor: Actor, command: RoomCommand): Promise<CommandResult> {
    return guarded("command", this.roomId(), async () => {
      this.learnRoomId(actor.roomId);
      return this.apply(actor, command);
    });
  }

  private apply<C extends RoomCommand>(actor: Actor, command: C): CommandResult<C> {
    const { result, effects } = runCommand(
      { store: this.store, settings: this.settings(), roomId: this.roomId() ?? actor.roomId, actor, now: Date.now() },
      command,
    );
    this.effects.apply(effects);
    maybeFlushMetrics(this.env, (p) => this.ctx.waitUntil(p));
    return result;
  }

  private closeIfAbusive(ws: WebSocket, conn: ConnectionState): void {
    const limits = this.settings().throttle;
    const rejected = this.store.throttleLog(conn.userId, Date.now() - limits.windowMs, true);
    if (rejected.length >= limits.abuseRejections) closeQuietly(ws, 1008, "sending too fast");
  }

  private async replay(ws: WebSocket, lastSeq: number): Promise<void> {
    const roomId = this.roomId() ?? "";
    await resume(ws, lastSeq, {
      store: this.store,
      sockets: this.sockets,
      roomId,
      read: (fn) => withDeadline(PG_TIMEOUT_MS, (signal) => fn(createDb(this.env, { signal }))),
    });
  }

  // --- auth on long-lived sockets -----------------------------------------------------------------

  private async refreshAuth(ws: WebSocket, conn: ConnectionState, token: string): Promise<void> {
    const claims = await verifyAccessToken(this.env, token).catch(() => null);
    if (!claims || claims.userId !== conn.userId) {
      return send(ws, {
        type: "error",
        code: "unauthorized",
        message: "auth.refresh needs a valid access token for this user",
        ref: "auth.refresh",
      });
    }
    this.sockets.update(ws, { tokenExpiresAt: claims.expiresAt, warned: false });
    send(ws, { type: "auth.refreshed", expiresAt: claims.expiresAt });
    await this.scheduleAlarm();
  }

  /** RPC: a member was removed (4003) or logged out (4001): close their sockets. */
  disconnectUser(userId: string, reason: DisconnectReason): Promise<number> {
    return guarded("disconnectUser", this.roomId(), async () => {
      const sockets = [...this.sockets.live(userId)].map(([ws]) => ws);
      const [code, text] = DISCONNECT_CLOSE[reason];
      for (const ws of sockets) {
        closeQuietly(ws, code, text);
        this.onSocketGone(ws);
      }
      return sockets.length;
    });
  }

  /**
   * RPC: the room was deleted (admin). Every socket is closed with 4004 and the object's storage wiped,
   * so nothing (an outbox row, an alarm) writes the room back into Postgres.
   */
  destroy(): Promise<number> {
    return guarded("destroy", this.roomId(), async () => {
      const sockets = this.ctx.getWebSockets();
      for (const ws of sockets) closeQuietly(ws, 4004, "room deleted");
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.store.forget();
      return sockets.length;
    });
  }

  /** RPC: an upload finished (bytes in R2, row in Postgres); its uploader may now send it in a message. */
  attachmentReady(a: AttachmentRef & { uploaderId: string; createdAt: number }): Promise<void> {
    return guarded("attachmentReady", this.roomId(), async () => this.store.registerAttachment(a));
  }

  /** RPC: a member's role changed; their open sockets act with the new role at once. */
  memberChanged(userId: string, role: Role): Promise<void> {
    return guarded("memberChanged", this.roomId(), async () => {
      for (const [ws] of this.sockets.live(userId)) this.sockets.update(ws, { role });
    });
  }

  // --- alarm: one timer for outbox retries, presence, token expiry and heartbeat sweeps -----------

  override async alarm(): Promise<void> {
    this.alarms.fired();
    const now = Date.now();
    // Never let the alarm throw: the platform gives up after 6 retries, we must not.
    await guarded("alarm", this.roomId(), async () => {
      if (this.store.outboxStats().depth > 0) await this.outbox.flushSoon(true);
      this.heartbeats.sweep(now);
      this.presence.flushDue(now);
      this.store.pruneThrottle(now - this.settings().throttle.windowMs);
    }).catch(() => undefined);
    await this.scheduleAlarm();
  }

  /** Sets the alarm to the earliest thing this room must do next, or clears it when there is nothing. */
  private async scheduleAlarm(): Promise<void> {
    const now = Date.now();
    const times = this.heartbeats.allDeadlines();
    if (this.store.outboxStats().depth > 0) times.push(this.outbox.retryAt() || now + 1000);
    const presenceAt = this.presence.nextAt();
    if (presenceAt !== null) times.push(presenceAt);
    await this.alarms.reschedule(times, now);
  }

  // --- inspection -----------------------------------------------------------------------------------

  /** Runs `fn` against this room's Redis buffer (one deadline for all its calls). Throws when Redis is off. */
  withBuffer<T>(fn: (buffer: RecentBuffer) => Promise<T>): Promise<T> {
    const roomId = this.roomId();
    if (!roomId) return Promise.reject(new Error("room id not known yet"));
    const limits = this.settings().buffer;
    return withRedis(this.env, (redis) => fn(new RecentBuffer(redis, roomId, limits)), { retries: 1 });
  }

  /** RPC: live figures for inspection (admin API and tests). */
  async stats(): Promise<RoomStats> {
    return {
      roomId: this.roomId(),
      lastSeq: this.store.lastSeq(),
      sockets: this.sockets.count(),
      online: this.sockets.onlineUsers(),
      outbox: { ...this.store.outboxStats(), deadLetters: this.store.deadLetterCount() },
      buffer: redisConfigured(this.env) ? await this.withBuffer((b) => b.bounds()).catch(() => null) : null,
      throttleHits: Number(this.store.getMeta("throttle_hits") ?? 0),
    };
  }

  /** RPC: wait until the outbox is empty or a flush fails (tests and graceful operations). */
  async drainOutbox(): Promise<{ depth: number }> {
    await this.outbox.idle();
    if (this.store.outboxStats().depth > 0) await this.outbox.flushSoon(true);
    return { depth: this.store.outboxStats().depth };
  }

  // --- helpers ----------------------------------------------------------------------------------------

  private settings() {
    return roomSettings(this.env);
  }

  /**
   * Called once per socket however it ends (client close, error, or our own close): the first call marks
   * it departed, and announces `left` if it was the user's last socket; later calls do nothing.
   */
  private onSocketGone(ws: WebSocket): void {
    const conn = this.sockets.of(ws);
    if (!conn || conn.departed) return;
    this.sockets.update(ws, { departed: true });
    const stillHere = this.sockets.live(conn.userId).next().done === false;
    if (!stillHere) this.presence.changed(conn.userId, "left", ws, Date.now());
  }

  /**
   * A room is addressed by its id's name (the room's UUID). Where the runtime shows the name inside the
   * object, that is the answer; otherwise the first caller's word (the worker, which addressed us by it)
   * is stored once.
   */
  private roomId(): string | null {
    this.cachedRoomId ??= this.ctx.id.name ?? this.store.getMeta("roomId");
    return this.cachedRoomId;
  }

  private learnRoomId(roomId: string): void {
    if (this.roomId() !== null) return;
    this.store.setMeta("roomId", roomId);
    this.cachedRoomId = roomId;
  }
}
