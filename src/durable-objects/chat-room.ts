import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { sessionState } from "../db/sessions";
import { positiveSetting } from "../lib/config";
import { withDeadline } from "../lib/deadline";
import { verifyAccessToken } from "../lib/jwt";
import { setLogLevel } from "../lib/log";
import { maybeFlushMetrics } from "../lib/metrics";
import { RecentBuffer } from "../lib/recent-buffer";
import { redisConfigured, withRedis } from "../lib/redis";
import { type AttachmentRef, PING_FRAME, PONG_FRAME } from "../protocol/frames";
import type { Actor, Role } from "../protocol/identity";
import type { WatchPush, WatchRequest } from "../protocol/inbox";
import type { CommandResult, DisconnectReason, RoomCommand, RoomStats } from "../protocol/room-rpc";
import { AlarmClock } from "./alarm-clock";
import { BufferWriter } from "./buffer-writer";
import { runCommand } from "./commands";
import { type ConnectionState, closeQuietly, DISCONNECT_CLOSE } from "./connection";
import { ContentScreen, screenCommand } from "./content-screen";
import { guarded } from "./error-path";
import { dispatchFrame, type FrameHandlers } from "./frame-dispatch";
import { internalError } from "./frame-parse";
import { Heartbeats } from "./heartbeats";
import { MemberCache } from "./member-cache";
import { OutboxFlusher, PG_TIMEOUT_MS } from "./outbox-flusher";
import { PresenceAnnouncer } from "./presence";
import { resume } from "./resume";
import { RoomAlarm } from "./room-alarm";
import { RoomEffects } from "./room-effects";
import { roomLog } from "./room-log";
import { roomSettings } from "./room-settings";
import { RoomStore } from "./room-store";
import { RoomWatchers } from "./room-watchers";
import { acceptSocket } from "./socket-accept";
import { SocketRegistry, send } from "./sockets";
import { syncSocket } from "./sync";
import { Visibility } from "./visibility";

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
  private readonly clock: AlarmClock;
  private readonly timers: RoomAlarm;
  private readonly frames: FrameHandlers;
  private readonly outbox: OutboxFlusher;
  private readonly presence: PresenceAnnouncer;
  private readonly heartbeats: Heartbeats;
  private readonly effects: RoomEffects;
  private readonly visibility: Visibility;
  /** Issue 24: who may connect without a Postgres query (member-cache.ts). */
  private readonly members: MemberCache;
  private readonly screen: ContentScreen;
  /** Inboxes watching this room (issue 25; room-watchers.ts). */
  private readonly watchers: RoomWatchers;
  private cachedRoomId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    setLogLevel(env.LOG_LEVEL);
    this.store = new RoomStore(ctx.storage);
    this.visibility = new Visibility(this.store);
    this.members = new MemberCache(ctx.storage.kv, this.store);
    this.screen = new ContentScreen(() => this.env);
    this.sockets = new SocketRegistry(ctx, this.visibility);
    this.clock = new AlarmClock(ctx.storage, this.store);
    const arm = (at: number) => this.clock.arm(at);
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
    // --- inbox hook (issue 25) ---
    this.watchers = new RoomWatchers({
      sql: ctx.storage.sql,
      store: this.store,
      roomId: () => this.roomId(),
      windowMs: () => positiveSetting(this.env, "INBOX_COALESCE_MS"),
      armAlarm: arm,
      push: (userId, epoch, state) => this.env.INBOXES.get(this.env.INBOXES.idFromName(userId)).roomState(epoch, state),
    });
    // --- end inbox hook ---
    this.effects = new RoomEffects({
      sockets: this.sockets,
      buffer,
      outbox: this.outbox,
      blocksChanged: () => this.visibility.forget(),
      watchers: this.watchers,
    });
    this.timers = new RoomAlarm({
      clock: this.clock,
      store: this.store,
      outbox: this.outbox,
      heartbeats: this.heartbeats,
      presence: this.presence,
      throttleWindowMs: () => this.settings().throttle.windowMs,
      roomId: () => this.roomId(),
      inboxes: this.watchers,
    });
    this.frames = {
      sockets: this.sockets,
      roomId: () => this.roomId(),
      apply: (actor, command) => this.screenThenApply(actor, command),
      resume: (ws, lastSeq) => this.replay(ws, lastSeq),
      sync: (ws, since) => this.sync(ws, since),
      refreshAuth: (ws, conn, token) => this.refreshAuth(ws, conn, token),
      throttled: (ws, conn) => this.closeIfAbusive(ws, conn),
    };
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // --- connecting ---------------------------------------------------------------------------------

  override fetch(request: Request): Promise<Response> {
    return guarded(
      "fetch",
      this.roomId(),
      async () =>
        acceptSocket(request, {
          ctx: this.ctx,
          store: this.store,
          sockets: this.sockets,
          presence: this.presence,
          heartbeats: this.heartbeats,
          alarms: this.clock,
          members: this.members,
          learnRoomId: (id) => this.learnRoomId(id),
          sync: (ws, since) =>
            this.ctx.waitUntil(
              guarded("sync", this.roomId(), () => this.sync(ws, since), {
                fallback: (incident) => send(ws, internalError("sync", incident)),
              }),
            ),
        }),
      {
        fallback: (incident) =>
          Response.json({ error: { code: "internal", message: `room error (incident ${incident})` } }, { status: 500 }),
      },
    );
  }

  // --- frames -----------------------------------------------------------------------------------------

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let ref = "frame";
    await guarded("webSocketMessage", this.roomId(), () => dispatchFrame(ws, message, this.frames, (r) => (ref = r)), {
      fallback: (incident) => send(ws, internalError(ref, incident)),
      context: () => ({ ref, connId: this.sockets.of(ws)?.connId }),
    });
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
    return guarded(
      "command",
      this.roomId(),
      async () => {
        this.learnRoomId(actor.roomId);
        return this.screenThenApply(actor, command);
      },
      // A result, not a throw: the worker maps it like any refusal (500 internal, naming the incident).
      {
        fallback: (incident) => ({
          status: "rejected",
          code: "internal",
          message: `room error (incident ${incident})`,
        }),
      },
    );
  }

  /** Message text passes the content rules and the moderation webhook (if set) before the command runs. */
  private async screenThenApply(actor: Actor, command: RoomCommand): Promise<CommandResult> {
    const screened = await screenCommand(this.screen, this.store, actor, command);
    return "status" in screened ? screened : this.apply(actor, screened);
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

  private sync(ws: WebSocket, since: number): Promise<void> {
    return syncSocket(ws, since, {
      store: this.store,
      sockets: this.sockets,
      roomId: this.roomId() ?? "",
      read: (fn) => withDeadline(PG_TIMEOUT_MS, (signal) => fn(createDb(this.env, { signal }))),
      view: (frame, viewer) => this.visibility.view(frame, viewer),
    });
  }

  // --- auth on long-lived sockets -----------------------------------------------------------------

  private async refreshAuth(ws: WebSocket, conn: ConnectionState, token: string): Promise<void> {
    const claims = await verifyAccessToken(this.env, token).catch(() => null);
    // A token of an ended session (logout, reuse detected, ban) extends nothing, with Redis down too.
    const live = claims !== null && (await sessionState(this.env, claims.sessionId, claims.userId)) === "live";
    if (!claims || !live || claims.userId !== conn.userId) {
      return send(ws, {
        type: "error",
        code: "unauthorized",
        message: "auth.refresh needs a valid access token of a live session of this user",
        ref: "auth.refresh",
      });
    }
    this.sockets.update(ws, { tokenExpiresAt: claims.expiresAt, warned: false });
    send(ws, { type: "auth.refreshed", expiresAt: claims.expiresAt });
    await this.timers.reschedule();
  }

  /**
   * RPC (issue 24), before Postgres removes or bans a member: the room stops vouching for them until the
   * change is done (member-cache.ts). The route commits nothing if this fails.
   */
  revokingMember(userId: string): Promise<void> {
    return guarded("revokingMember", this.roomId(), async () => this.members.revoking(userId));
  }

  /**
   * RPC (issue 24): the member's role if the room vouches for them without Postgres (member-cache.ts),
   * with its last seq: what a history read needs to serve the Redis buffer while Postgres is away. Null:
   * only Postgres can say.
   */
  vouchedMember(userId: string): Promise<{ role: Role; lastSeq: number } | null> {
    return guarded("vouchedMember", this.roomId(), async () => {
      const answer = this.members.lookup(userId);
      return answer.known ? { role: answer.role, lastSeq: this.store.lastSeq() } : null;
    });
  }

  /** RPC: a member was removed (4003) or logged out (4001): close their sockets. */
  disconnectUser(userId: string, reason: DisconnectReason): Promise<number> {
    return guarded("disconnectUser", this.roomId(), async () => {
      if (reason !== "logged_out") this.members.revoked(userId); // issue 24: membership changed in Postgres
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
      await this.watchers.roomDeleted(); // inbox hook (issue 25): watching inboxes drop the room
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.store.forget();
      this.visibility.forget();
      this.watchers.forget();
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
      this.members.revoked(userId); // issue 24: the next upgrade reads the new role from Postgres
      for (const [ws] of this.sockets.live(userId)) this.sockets.update(ws, { role });
    });
  }

  // --- inboxes (issue 25; room-watchers.ts) ------------------------------------------------------------

  /** RPC from a member's inbox: register it; answers the member's state here now. */
  watch(roomId: string, req: WatchRequest): Promise<WatchPush> {
    return guarded("watch", this.roomId(), async () => {
      this.learnRoomId(roomId);
      return this.watchers.watch(req, Date.now());
    });
  }

  /** RPC from a member's inbox: its session ended (`lastSeenAt`: when its last device went away). */
  unwatch(userId: string, epoch: string, lastSeenAt: number | null): Promise<void> {
    return guarded("unwatch", this.roomId(), async () => this.watchers.unwatch(userId, epoch, lastSeenAt, Date.now()));
  }

  /** RPC from a member's inbox: their devices came (online) or all went (offline, at `at`). */
  watcherPresence(userId: string, epoch: string, online: boolean, at: number): Promise<void> {
    return guarded("watcherPresence", this.roomId(), async () => this.watchers.presence(userId, epoch, online, at));
  }

  override alarm(): Promise<void> {
    return this.timers.run();
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
