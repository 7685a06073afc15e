import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { withDeadline } from "../lib/deadline";
import { inc, maybeFlushMetrics } from "../lib/metrics";
import { redisConfigured, withRedis } from "../lib/redis";
import type { ErrorCode } from "../protocol/errors";
import {
  type AttachmentRef,
  CLIENT_FRAME_TYPES,
  clientFrame,
  type MessageView,
  PING_FRAME,
  PONG_FRAME,
  type SendMessage,
} from "../protocol/frames";
import { claimableAfter } from "../worker/attachments/policy";
import { verifyAccessToken } from "../worker/auth/jwt";
import { logJson, setLogLevel } from "../worker/log";
import { type ConnectionState, closeQuietly, userTag } from "./connection";
import { type Actor, IDENTITY_HEADERS, type Role } from "./identity";
import { OutboxFlusher, PG_TIMEOUT_MS } from "./outbox-flusher";
import { PresenceAnnouncer } from "./presence";
import { RecentBuffer } from "./recent-buffer";
import { replay } from "./resume";
import { RoomStore } from "./room-store";
import { SocketRegistry, send } from "./sockets";
import { decide, limitsFrom, positiveInt } from "./throttle";

/** Frames above this close the socket with 1009 (message too big). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Clients ping at least every 30 s; a socket silent this long (ROOM_HEARTBEAT_TIMEOUT_MS) is treated as dead. */
const heartbeatTimeoutMs = (env: Env) => positiveInt(env.ROOM_HEARTBEAT_TIMEOUT_MS, 120_000);
const HEARTBEAT_WRITE_MS = 30_000;
/** auth.expiring goes out this long before the token expires. */
const AUTH_WARN_MS = 60_000;

export type SendResult =
  | { status: "accepted"; message: MessageView }
  | { status: "duplicate"; seq: number; message: MessageView | null }
  | { status: "throttled"; retryAfterMs: number }
  | { status: "rejected"; code: ErrorCode; message: string };

export type ChangeResult = { status: "ok" } | { status: "rejected"; code: ErrorCode; message: string };

/** Close codes for users the worker disconnects: 4001 asks the client to sign in again, 4003 not to retry. */
const DISCONNECT_CLOSE = {
  logged_out: [4001, "logged out"],
  removed: [4003, "removed from room"],
  banned: [4003, "account suspended"],
} as const;

export interface RoomStats {
  roomId: string | null;
  lastSeq: number;
  sockets: number;
  online: string[];
  outbox: { depth: number; oldestAt: number | null; deadLetters: number };
  buffer: { min: number; max: number; count: number } | null;
  throttleHits: number;
}

/**
 * One object per chat room and the single writer of its messages. Sockets are accepted with the
 * Hibernation API, per-socket state lives in the attachment and per-room state in SQLite, so a woken
 * object needs no rebuild. A message is acknowledged once it is in SQLite (the output gate holds the ack
 * until the write is durable); Postgres, Redis and the queue are fed afterwards from the outbox.
 */
export class ChatRoom extends DurableObject<Env> {
  private readonly store: RoomStore;
  /** The room's sockets and their state (public so tests can age a socket's heartbeat). */
  readonly sockets: SocketRegistry;
  private readonly outbox: OutboxFlusher;
  private readonly presence: PresenceAnnouncer;
  private cachedRoomId: string | null = null;
  /** Changed messages waiting for the Redis buffer; one pipelined call at a time carries them all. */
  private bufferPending = new Map<number, MessageView>();
  private bufferWriting = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    setLogLevel(env.LOG_LEVEL);
    this.store = new RoomStore(ctx.storage);
    this.sockets = new SocketRegistry(ctx);
    this.outbox = new OutboxFlusher({
      store: this.store,
      env: () => this.env,
      roomId: () => this.roomId(),
      onlineUsers: () => this.sockets.onlineUsers(),
      armAlarm: (at) => this.armAlarm(at),
    });
    this.presence = new PresenceAnnouncer({
      store: this.store,
      sockets: this.sockets,
      windowMs: () => positiveInt(this.env.PRESENCE_COALESCE_MS, 250),
      armAlarm: (at) => this.armAlarm(at),
    });
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // --- connecting ---------------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const h = (name: string) => request.headers.get(name);
    const userId = h(IDENTITY_HEADERS.userId);
    const roomId = h(IDENTITY_HEADERS.roomId);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !roomId) {
      // Only the worker talks to this object, always with identity; anything else is a bug upstream.
      return new Response("expected an authenticated WebSocket upgrade from the worker", { status: 400 });
    }
    const now = Date.now();
    const ticketId = h(IDENTITY_HEADERS.ticketId);
    if (ticketId && !this.store.useTicket(ticketId, Number(h(IDENTITY_HEADERS.ticketExpiresAt)) * 1000, now)) {
      return Response.json({ error: { code: "unauthorized", message: "ticket already used" } }, { status: 401 });
    }
    this.rememberRoomId(roomId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const firstSocketOfUser = this.sockets.live(userId).next().done === true;
    // Tagged per user so operators' tools can address one user's sockets without waking every attachment.
    this.ctx.acceptWebSocket(server, [userTag(userId)]);
    const state: ConnectionState = {
      userId,
      connId: crypto.randomUUID(),
      role: (h(IDENTITY_HEADERS.role) as Role | null) ?? "member",
      tokenExpiresAt: Number(h(IDENTITY_HEADERS.tokenExpiresAt) ?? 0),
      warned: false,
      connectedAt: now,
      lastFrameAt: now,
      resuming: false,
      ...(h(IDENTITY_HEADERS.requestId) ? { requestId: h(IDENTITY_HEADERS.requestId) as string } : {}),
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
    // Only this socket's deadlines can be new: bringing the alarm forward to them is enough, and spares a
    // connect storm a scan of every socket per connect.
    this.armAlarm(Math.max(Math.min(...this.socketDeadlines(server, state)), now + 50));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const conn = this.sockets.of(ws);
    if (!conn) return closeQuietly(ws, 1011, "missing connection state");
    const now = Date.now();
    if (now - conn.lastFrameAt > HEARTBEAT_WRITE_MS) this.sockets.update(ws, { lastFrameAt: now });
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
    if (!parsed.success) return send(ws, frameError(json, parsed.error.issues));
    const frame = parsed.data;
    const actor: Actor = {
      roomId: this.roomId() ?? "",
      userId: conn.userId,
      role: conn.role,
      ...(conn.requestId ? { requestId: conn.requestId } : {}),
    };

    switch (frame.type) {
      case "ping":
        return send(ws, { type: "pong" });
      case "typing":
        // Typing is never stored; clients expire it themselves if no update follows.
        return this.sockets.broadcast({ type: "typing", userId: conn.userId, on: frame.on }, ws);
      case "send": {
        const { type: _t, ...input } = frame;
        return this.answerSend(ws, input.clientMsgId, this.accept(actor, input));
      }
      case "edit":
        return this.answerChange(ws, `edit:${frame.seq}`, this.edit(actor, frame.seq, frame.body));
      case "delete":
        return this.answerChange(ws, `delete:${frame.seq}`, this.remove(actor, frame.seq));
      case "read":
        return this.answerChange(ws, `read:${frame.seq}`, this.markRead(actor, frame.seq));
      case "react":
        return this.answerChange(ws, `react:${frame.seq}`, this.react(actor, frame.seq, frame.emoji, frame.on));
      case "resume":
        return this.resume(ws, frame.lastSeq);
      case "auth.refresh":
        return this.refreshAuth(ws, conn, frame.token);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code, reason);
    this.onSocketGone(ws);
    this.sockets.remove(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.onSocketGone(ws);
    this.sockets.remove(ws);
  }

  // --- messages: the one code path for WebSocket frames and REST (RPC) ----------------------------

  /** RPC for REST sends; WebSocket sends take the same path. */
  async sendMessage(actor: Actor, input: SendMessage): Promise<SendResult> {
    this.rememberRoomId(actor.roomId);
    return this.accept(actor, input);
  }

  async editMessage(actor: Actor, seq: number, body: string): Promise<ChangeResult> {
    this.rememberRoomId(actor.roomId);
    return this.edit(actor, seq, body);
  }

  async deleteMessage(actor: Actor, seq: number): Promise<ChangeResult> {
    this.rememberRoomId(actor.roomId);
    return this.remove(actor, seq);
  }

  async readUpTo(actor: Actor, seq: number): Promise<ChangeResult> {
    this.rememberRoomId(actor.roomId);
    return this.markRead(actor, seq);
  }

  async reactTo(actor: Actor, seq: number, emoji: string, on: boolean): Promise<ChangeResult> {
    this.rememberRoomId(actor.roomId);
    return this.react(actor, seq, emoji, on);
  }

  async pinMessage(actor: Actor, seq: number, on: boolean): Promise<ChangeResult> {
    this.rememberRoomId(actor.roomId);
    return this.pin(actor, seq, on);
  }

  private react(actor: Actor, seq: number, emoji: string, on: boolean): ChangeResult {
    const owner = this.store.owner(seq);
    if (!owner) return { status: "rejected", code: "not_found", message: `no message ${seq}` };
    if (owner.deleted && on) return { status: "rejected", code: "conflict", message: "the message was deleted" };
    const now = Date.now();
    const changed = this.store.transaction(() => {
      const moved = this.store.setReaction(seq, actor.userId, emoji, on);
      if (moved) this.store.enqueue("reaction", seq, { seq, userId: actor.userId, emoji, on }, now);
      return moved;
    });
    if (changed) {
      this.sockets.broadcast({ type: "reaction", seq, userId: actor.userId, emoji, on });
      void this.flushSoon();
    }
    return { status: "ok" };
  }

  /** Any member pins; unpinning is for whoever pinned it and room admins. */
  private pin(actor: Actor, seq: number, on: boolean): ChangeResult {
    const owner = this.store.owner(seq);
    if (!owner) return { status: "rejected", code: "not_found", message: `no message ${seq}` };
    if (owner.deleted && on) return { status: "rejected", code: "conflict", message: "the message was deleted" };
    const pinnedBy = this.store.pinnedBy(seq);
    const moderator = actor.role === "owner" || actor.role === "admin";
    if (!on && pinnedBy && pinnedBy !== actor.userId && !moderator) {
      return { status: "rejected", code: "forbidden", message: "only who pinned it or a room admin can unpin" };
    }
    const now = Date.now();
    const changed = this.store.transaction(() => {
      const moved = this.store.setPin(seq, actor.userId, on, now);
      if (moved)
        this.store.enqueue("pin", seq, { seq, userId: actor.userId, on, at: new Date(now).toISOString() }, now);
      return moved;
    });
    if (changed) {
      this.sockets.broadcast({ type: "pinned", seq, userId: actor.userId, on });
      void this.flushSoon();
    }
    return { status: "ok" };
  }

  private accept(actor: Actor, input: SendMessage): SendResult {
    const now = Date.now();
    const limits = limitsFrom(this.env);
    const roomId = this.roomId() ?? actor.roomId;
    const result = this.store.transaction((): SendResult => {
      const existing = this.store.seqForClientId(actor.userId, input.clientMsgId);
      if (existing !== null) {
        const original = this.store.ringRange(existing - 1, 1, roomId).find((m) => m.seq === existing) ?? null;
        return { status: "duplicate", seq: existing, message: original };
      }
      const decision = decide(
        this.store.throttleWindow(actor.userId, now - limits.windowMs, limits.messages),
        now,
        limits,
      );
      if (!decision.allowed) {
        this.store.logSend(actor.userId, now, true);
        this.store.bump("throttle_hits");
        inc("edgechat_messages_throttled_total");
        return { status: "throttled", retryAfterMs: decision.retryAfterMs };
      }
      if (input.replyTo !== undefined && !this.store.owner(input.replyTo)) {
        return {
          status: "rejected",
          code: "unprocessable",
          message: `replyTo ${input.replyTo} is not a message in this room`,
        };
      }
      const files = input.attachments?.length
        ? this.store.claimAttachments(
            input.attachments,
            actor.userId,
            this.store.lastSeq() + 1,
            claimableAfter(this.env, Date.now()),
          )
        : [];
      if (files === null) {
        return {
          status: "rejected",
          code: "unprocessable",
          message: "an attachment is not yours, not uploaded to this room, already sent, or expired",
        };
      }
      const message = this.store.insertMessage(
        {
          senderId: actor.userId,
          clientMsgId: input.clientMsgId,
          body: input.body,
          replyTo: input.replyTo ?? null,
          createdAt: new Date(now).toISOString(),
          ...(files.length ? { attachments: files } : {}),
        },
        roomId,
      );
      this.store.enqueue("message", message.seq, { message, requestId: actor.requestId }, now);
      this.store.logSend(actor.userId, now, false);
      this.store.trimRing(positiveInt(this.env.ROOM_RING_SIZE, 1000));
      return { status: "accepted", message };
    });
    if (result.status === "accepted") inc("edgechat_messages_accepted_total");
    maybeFlushMetrics(this.env, (p) => this.ctx.waitUntil(p));
    if (result.status === "accepted") {
      this.sockets.broadcast({ type: "message", ...result.message });
      this.afterChange([result.message]);
    }
    return result;
  }

  private edit(actor: Actor, seq: number, body: string): ChangeResult {
    const owner = this.store.owner(seq);
    if (!owner) return { status: "rejected", code: "not_found", message: `no message ${seq}` };
    if (owner.senderId !== actor.userId)
      return { status: "rejected", code: "forbidden", message: "only the sender can edit a message" };
    if (owner.deleted) return { status: "rejected", code: "conflict", message: "the message was deleted" };
    const now = Date.now();
    const editedAt = new Date(now).toISOString();
    this.store.transaction(() => {
      this.store.editMessage(seq, body, now);
      this.store.enqueue("edit", seq, { seq, body, editedAt }, now);
    });
    this.sockets.broadcast({ type: "edited", seq, body, editedAt });
    this.afterChange(this.store.ringRange(seq - 1, 1, this.roomId() ?? actor.roomId).filter((m) => m.seq === seq));
    return { status: "ok" };
  }

  private remove(actor: Actor, seq: number): ChangeResult {
    const owner = this.store.owner(seq);
    if (!owner) return { status: "rejected", code: "not_found", message: `no message ${seq}` };
    const moderator = actor.role === "owner" || actor.role === "admin";
    if (owner.senderId !== actor.userId && !moderator) {
      return { status: "rejected", code: "forbidden", message: "only the sender or a room admin can delete a message" };
    }
    if (owner.deleted) return { status: "ok" };
    const now = Date.now();
    const deletedAt = new Date(now).toISOString();
    this.store.transaction(() => {
      this.store.deleteMessage(seq, now);
      this.store.enqueue("delete", seq, { seq, deletedAt }, now);
    });
    this.sockets.broadcast({ type: "deleted", seq, deletedAt });
    this.afterChange(this.store.ringRange(seq - 1, 1, this.roomId() ?? actor.roomId).filter((m) => m.seq === seq));
    return { status: "ok" };
  }

  private markRead(actor: Actor, seq: number): ChangeResult {
    if (seq > this.store.lastSeq())
      return { status: "rejected", code: "unprocessable", message: `seq ${seq} is past the room's last message` };
    const now = Date.now();
    const advanced = this.store.transaction(() => {
      const moved = this.store.advanceReadMark(actor.userId, seq);
      if (moved) this.store.enqueue("read", seq, { userId: actor.userId, seq }, now);
      return moved;
    });
    if (advanced) {
      this.sockets.broadcast({ type: "receipt", userId: actor.userId, seq });
      void this.flushSoon();
    }
    return { status: "ok" };
  }

  /** After a committed change: refresh the Redis buffer (best effort) and write through to Postgres. */
  private afterChange(changed: MessageView[]): void {
    if (changed.length > 0 && redisConfigured(this.env)) {
      for (const m of changed) this.bufferPending.set(m.seq, m);
      void this.writeBuffer();
    }
    void this.flushSoon();
  }

  /** Redis is a cache: failures are logged and dropped (history falls back to Postgres), never retried into the send path. */
  private async writeBuffer(): Promise<void> {
    if (this.bufferWriting) return;
    this.bufferWriting = true;
    try {
      while (this.bufferPending.size > 0) {
        const batch = [...this.bufferPending.values()];
        this.bufferPending.clear();
        await this.withBuffer((buffer) => buffer.upsert(batch)).catch((err: Error) =>
          logJson("warn", {
            msg: "redis buffer write failed",
            roomId: this.roomId(),
            messages: batch.length,
            error: err.message,
          }),
        );
      }
    } finally {
      this.bufferWriting = false;
    }
  }

  private answerSend(ws: WebSocket, clientMsgId: string, result: SendResult): void {
    switch (result.status) {
      case "accepted":
        send(ws, { type: "ack", clientMsgId, seq: result.message.seq });
        break;
      case "duplicate":
        send(ws, { type: "ack", clientMsgId, seq: result.seq, duplicate: true });
        break;
      case "throttled":
        send(ws, { type: "throttled", retryAfterMs: result.retryAfterMs, clientMsgId });
        this.closeIfAbusive(ws);
        break;
      case "rejected":
        send(ws, { type: "error", code: result.code, message: result.message, ref: clientMsgId });
        break;
    }
  }

  private answerChange(ws: WebSocket, ref: string, result: ChangeResult): void {
    if (result.status === "rejected") send(ws, { type: "error", code: result.code, message: result.message, ref });
  }

  private closeIfAbusive(ws: WebSocket): void {
    const conn = this.sockets.of(ws);
    if (!conn) return;
    const limits = limitsFrom(this.env);
    const rejected = this.store.throttleLog(conn.userId, Date.now() - limits.windowMs, true);
    if (rejected.length >= limits.abuseRejections) closeQuietly(ws, 1008, "sending too fast");
  }

  // --- resume ---------------------------------------------------------------------------------------

  private async resume(ws: WebSocket, lastSeq: number): Promise<void> {
    const last = this.store.lastSeq();
    if (lastSeq > last) {
      return send(ws, {
        type: "error",
        code: "resync_required",
        message: `lastSeq ${lastSeq} is past this room's last seq ${last}; drop local state and resume from 0`,
        ref: "resume",
      });
    }
    this.sockets.update(ws, { resuming: true });
    try {
      await withDeadline(PG_TIMEOUT_MS, (signal) =>
        replay(ws, lastSeq, {
          store: this.store,
          db: () => createDb(this.env, { signal }),
          roomId: this.roomId() ?? "",
        }),
      );
    } catch (err) {
      logJson("warn", { msg: "resume failed", roomId: this.roomId(), error: (err as Error).message });
      send(ws, {
        type: "error",
        code: "unavailable",
        message: "history is unavailable right now; resume again shortly",
        ref: "resume",
      });
    } finally {
      this.sockets.update(ws, { resuming: false });
    }
  }

  // --- auth on long-lived sockets -----------------------------------------------------------------

  private async refreshAuth(ws: WebSocket, conn: ConnectionState, token: string): Promise<void> {
    try {
      const claims = await verifyAccessToken(this.env, token);
      if (claims.userId !== conn.userId) throw new Error("token is for another user");
      this.sockets.update(ws, { tokenExpiresAt: claims.expiresAt, warned: false });
      send(ws, { type: "auth.refreshed", expiresAt: claims.expiresAt });
      await this.scheduleAlarm();
    } catch {
      send(ws, {
        type: "error",
        code: "unauthorized",
        message: "auth.refresh needs a valid access token for this user",
        ref: "auth.refresh",
      });
    }
  }

  /** RPC: a member was removed (4003) or logged out (4001): close their sockets. */
  async disconnectUser(userId: string, reason: keyof typeof DISCONNECT_CLOSE): Promise<number> {
    const sockets = [...this.sockets.live(userId)].map(([ws]) => ws);
    const [code, text] = DISCONNECT_CLOSE[reason];
    for (const ws of sockets) {
      closeQuietly(ws, code, text);
      this.onSocketGone(ws);
    }
    return sockets.length;
  }

  /**
   * RPC: the room was deleted (admin). Every socket is closed with 4004 and the object's storage wiped,
   * so nothing (an outbox row, an alarm) writes the room back into Postgres.
   */
  async destroy(): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) closeQuietly(ws, 4004, "room deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.store.forget();
    return sockets.length;
  }

  /** RPC: an upload finished (bytes in R2, row in Postgres); its uploader may now send it in a message. */
  async attachmentReady(a: AttachmentRef & { uploaderId: string; createdAt: number }): Promise<void> {
    this.store.registerAttachment(a);
  }

  /** RPC: a member's role changed; their open sockets act with the new role at once. */
  async memberChanged(userId: string, role: Role): Promise<void> {
    for (const [ws] of this.sockets.live(userId)) this.sockets.update(ws, { role });
  }

  // --- outbox: write-through to Postgres ----------------------------------------------------------

  private flushSoon(force = false): Promise<void> {
    return this.outbox.flushSoon(force);
  }

  // --- alarm: one timer for outbox retries, token expiry and heartbeat sweeps --------------------

  override async alarm(): Promise<void> {
    this.store.setMeta("alarmAt", 0);
    const now = Date.now();
    // Never let the alarm throw: the platform gives up after 6 retries, we must not.
    try {
      if (this.store.outboxStats().depth > 0) await this.flushSoon(true);
      this.sweepSockets(now);
      this.presence.flushDue(now);
      this.store.pruneThrottle(now - limitsFrom(this.env).windowMs);
    } catch (err) {
      logJson("error", { msg: "room alarm failed", roomId: this.roomId(), error: (err as Error).message });
    }
    await this.scheduleAlarm();
  }

  private sweepSockets(now: number): void {
    for (const [ws, conn] of this.sockets.live()) {
      if (now - this.lastSeen(ws, conn) > heartbeatTimeoutMs(this.env)) {
        closeQuietly(ws, 1001, "heartbeat timeout");
        this.onSocketGone(ws);
        continue;
      }
      const expiresAt = conn.tokenExpiresAt * 1000;
      if (expiresAt <= now) closeQuietly(ws, 4001, "token expired");
      else if (!conn.warned && expiresAt - now <= AUTH_WARN_MS) {
        send(ws, { type: "auth.expiring", expiresAt: conn.tokenExpiresAt });
        this.sockets.update(ws, { warned: true });
      }
    }
  }

  /** Sets the alarm to the earliest thing this room must do next, or clears it when there is nothing. */
  private async scheduleAlarm(): Promise<void> {
    const now = Date.now();
    const times: number[] = [];
    if (this.store.outboxStats().depth > 0) times.push(this.outbox.retryAt() || now + 1000);
    const presenceAt = this.presence.nextAt();
    if (presenceAt !== null) times.push(presenceAt);
    for (const [ws, conn] of this.sockets.live()) times.push(...this.socketDeadlines(ws, conn));
    if (times.length === 0) {
      this.store.setMeta("alarmAt", 0);
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.max(Math.min(...times), now + 50);
    this.store.setMeta("alarmAt", at);
    await this.ctx.storage.setAlarm(at);
  }

  /** Brings the alarm forward to `at` if it is set later (or not at all); never pushes it back. */
  private armAlarm(at: number): void {
    const current = Number(this.store.getMeta("alarmAt") ?? 0);
    if (current > 0 && current <= at) return;
    this.store.setMeta("alarmAt", at);
    void this.ctx.storage.setAlarm(at);
  }

  // --- inspection -----------------------------------------------------------------------------------

  /** Runs `fn` against this room's Redis buffer (one deadline for all its calls). Throws when Redis is off. */
  withBuffer<T>(fn: (buffer: RecentBuffer) => Promise<T>): Promise<T> {
    const roomId = this.roomId();
    if (!roomId) return Promise.reject(new Error("room id not known yet"));
    const limits = {
      size: positiveInt(this.env.RECENT_BUFFER_SIZE, 500),
      ttlSeconds: positiveInt(this.env.RECENT_BUFFER_TTL_SECONDS, 86_400),
    };
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
    if (this.store.outboxStats().depth > 0) await this.flushSoon(true);
    return { depth: this.store.outboxStats().depth };
  }

  // --- helpers ----------------------------------------------------------------------------------------

  /** When the alarm must next look at this socket: its auth warning or expiry, and its heartbeat timeout. */
  private socketDeadlines(ws: WebSocket, conn: ConnectionState): [number, number] {
    const expiresAt = conn.tokenExpiresAt * 1000;
    return [conn.warned ? expiresAt : expiresAt - AUTH_WARN_MS, this.lastSeen(ws, conn) + heartbeatTimeoutMs(this.env)];
  }

  /** Latest sign of life: a frame, or a ping the runtime answered without waking us. */
  private lastSeen(ws: WebSocket, conn: ConnectionState): number {
    const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(conn.connectedAt, conn.lastFrameAt, pinged);
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

  private rememberRoomId(roomId: string): void {
    if (this.roomId() !== roomId) {
      this.store.setMeta("roomId", roomId);
      this.cachedRoomId = roomId;
    }
  }

  private roomId(): string | null {
    this.cachedRoomId ??= this.store.getMeta("roomId");
    return this.cachedRoomId;
  }
}

function frameError(json: unknown, issues: { path: PropertyKey[]; message: string }[]) {
  const type = (json as { type?: unknown } | null)?.type;
  const known = typeof type === "string" && CLIENT_FRAME_TYPES.has(type);
  const ref =
    typeof (json as { clientMsgId?: unknown } | null)?.clientMsgId === "string"
      ? (json as { clientMsgId: string }).clientMsgId
      : undefined;
  return {
    type: "error" as const,
    code: (known ? "bad_frame" : "unknown_frame_type") as ErrorCode,
    message: known
      ? issues.map((i) => `${i.path.map(String).join(".") || "frame"}: ${i.message}`).join("; ")
      : `unknown frame type: ${String(type)}`,
    ...(ref ? { ref } : {}),
  };
}
