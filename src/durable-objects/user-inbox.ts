import { DurableObject } from "cloudflare:workers";
import { createDb, type Db } from "../db/client";
import { sessionState } from "../db/sessions";
import { mapBounded } from "../lib/bounded";
import { positiveSetting, wholeSetting } from "../lib/config";
import { withDeadline } from "../lib/deadline";
import { verifyAccessToken } from "../lib/jwt";
import { logJson, setLogLevel } from "../lib/log";
import { IDENTITY_HEADERS } from "../protocol/identity";
import {
  type InboxDelta,
  type InboxFrame,
  type InboxStats,
  isGone,
  PING_FRAME,
  PONG_FRAME,
  type PushAnswer,
  type RemovedReason,
  type WatchedState,
  type WatchPush,
} from "../protocol/inbox";
import type { DisconnectReason } from "../protocol/room-rpc";
import { MIN_DELAY_MS } from "./alarm-clock";
import { closeQuietly, DISCONNECT_CLOSE } from "./connection";
import { parseInboxFrame } from "./inbox/inbox-frames";
import { type InboxConnection, InboxSockets, sendFrame } from "./inbox/inbox-sockets";
import { type DistributiveOmit, type HeldRoom, InboxStore } from "./inbox/inbox-store";
import { loadInbox, loadNames, loadNotifications, loadRoom } from "./inbox/load";
import { byActivity, isNewer, mergeState, totalUnread } from "./inbox/merge";
import { sinceParam } from "./socket-accept";

/** A hung Postgres read must not wedge a session's start. */
const PG_TIMEOUT_MS = 10_000;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** A frame refreshes the socket's liveness in its attachment at most this often. */
const HEARTBEAT_WRITE_MS = 10_000;

type ListChange = { kind: "added"; roomId: string } | { kind: "removed"; roomId: string; reason: RemovedReason };

/**
 * One object per user: the live state of every room of theirs, for all their devices at once (issue 25).
 *
 * A session starts when the first device connects: the object reads the user's list from Postgres (one
 * round trip), sends it as a snapshot, then registers with each room (`watch`, after a random delay up to
 * INBOX_WATCH_JITTER_MS, INBOX_WATCH_CONCURRENCY at a time); each room answers with its exact state for
 * this user and from then on pushes coalesced state (room-watchers.ts). List changes come from the worker
 * (added, left, removed) or from the room (removed, banned, deleted); notifications from the queue
 * consumer and the read route. Every change to the state is a numbered delta sent to every device and kept
 * (INBOX_DELTA_LOG_SIZE) for devices that reconnect. The session lasts while a device is connected and
 * INBOX_GRACE_MS after the last one left; a device reconnecting within it catches up from its number, one
 * arriving later starts a new session (a new epoch, a new snapshot). Rooms pushing to an ended session
 * are answered "gone" and forget it.
 *
 * No timers: the one alarm runs heartbeats, token expiry, registration rounds and the end of the grace
 * period, so a quiet inbox hibernates like a room.
 */
export class UserInbox extends DurableObject<Env> {
  private readonly store: InboxStore;
  private readonly sockets: InboxSockets;
  private loading: Promise<void> | null = null;
  private watching = false;
  /** List changes that arrived while the session's list was being read; applied once it is. */
  private pendingList: ListChange[] = [];
  private notesAfterLoad = false;
  private notes: { running: Promise<void> | null; again: boolean } = { running: null, again: false };
  private readonly namesWanted = new Set<string>();
  private namesLoading: Promise<void> | null = null;
  /** Rooms whose last message's sender has no name yet (it follows in a second delta once read). */
  private readonly awaitingName = new Set<string>();
  private alarmAt: number | null = null;
  /** Pushes rooms made to this epoch (diagnostics): counted in memory, stored with the next delta. */
  private pushCount: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    setLogLevel(env.LOG_LEVEL);
    this.store = new InboxStore(ctx.storage);
    this.sockets = new InboxSockets(ctx);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  // --- settings -------------------------------------------------------------------------------------------

  private get graceMs(): number {
    return positiveSetting(this.env, "INBOX_GRACE_MS");
  }

  private get heartbeatTimeoutMs(): number {
    return positiveSetting(this.env, "ROOM_HEARTBEAT_TIMEOUT_MS");
  }

  private get userId(): string {
    return this.store.getMeta("userId") ?? "";
  }

  // --- connecting -----------------------------------------------------------------------------------------

  override fetch(request: Request): Promise<Response> {
    return this.guard("fetch", async () => {
      const h = (name: string) => request.headers.get(name);
      const userId = h(IDENTITY_HEADERS.userId);
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId) {
        return new Response("expected an authenticated WebSocket upgrade from the worker", { status: 400 });
      }
      const known = this.store.getMeta("userId");
      if (known && known !== userId) return new Response("not this user's inbox", { status: 400 });
      if (!known) this.store.setMeta("userId", userId);
      const now = Date.now();
      const ticketId = h(IDENTITY_HEADERS.ticketId);
      if (ticketId && !this.store.useTicket(ticketId, Number(h(IDENTITY_HEADERS.ticketExpiresAt)) * 1000, now)) {
        return Response.json({ error: { code: "unauthorized", message: "ticket already used" } }, { status: 401 });
      }
      const active = this.active(now);
      const alone = this.sockets.count() === 0;
      const pair = new WebSocketPair();
      const [client, server] = [pair[0], pair[1]];
      this.ctx.acceptWebSocket(server);
      const requestId = h(IDENTITY_HEADERS.requestId);
      const conn: InboxConnection = {
        connId: crypto.randomUUID(),
        userId,
        tokenExpiresAt: Number(h(IDENTITY_HEADERS.tokenExpiresAt) ?? 0),
        warned: false,
        connectedAt: now,
        lastFrameAt: now,
        ready: false,
        ...(requestId ? { requestId } : {}),
      };
      this.sockets.add(server, conn);
      this.store.setMeta("closedAt", 0);
      if (!active) {
        if (this.store.session !== "off") this.endSession(now);
        this.startSession();
      } else if (this.store.session === "on") {
        const url = new URL(request.url);
        this.deliver(server, url.searchParams.get("epoch"), sinceParam(request.url));
        if (alone) this.announce(true, now);
      }
      // (session loading: the snapshot follows when the list is read)
      logJson("info", {
        msg: "inbox socket connected",
        userId,
        connId: conn.connId,
        auth: ticketId ? "ticket" : "bearer",
        requestId,
      });
      await this.reschedule();
      return new Response(null, { status: 101, webSocket: client });
    });
  }

  /** A device's first frames: the deltas after its number when they are all kept, else a snapshot. */
  private deliver(ws: WebSocket, epoch: string | null, since: number | null): void {
    const store = this.store;
    if (epoch !== null && since !== null && epoch === store.epoch) {
      const frames = store.deltasAfter(since);
      if (frames) {
        for (const f of frames) sendFrame(ws, f);
        sendFrame(ws, { type: "synced", epoch, fromN: since, toN: store.lastN() });
        this.sockets.update(ws, { ready: true });
        return;
      }
    }
    sendFrame(ws, this.snapshot());
    this.sockets.update(ws, { ready: true });
  }

  private snapshot(): InboxFrame {
    const rooms = [...this.store.allRooms().values()].map((h) => h.entry).sort(byActivity);
    return {
      type: "snapshot",
      epoch: this.store.epoch ?? "",
      n: this.store.lastN(),
      you: this.userId,
      rooms,
      totalUnread: totalUnread(rooms),
      notifications: { unread: Number(this.store.getMeta("notesUnread") ?? 0), latest: this.store.notifications() },
    };
  }

  // --- frames ---------------------------------------------------------------------------------------------

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const internal = (incident: string) =>
      sendFrame(ws, {
        type: "error",
        code: "internal",
        message: `the inbox failed (incident ${incident})`,
        ref: "frame",
      });
    await this.guard(
      "webSocketMessage",
      async () => {
        const conn = this.sockets.of(ws);
        if (!conn) return;
        const now = Date.now();
        if (now - conn.lastFrameAt > HEARTBEAT_WRITE_MS) this.sockets.update(ws, { lastFrameAt: now });
        const parsed = parseInboxFrame(message);
        if (parsed.kind === "close") return closeQuietly(ws, parsed.code, parsed.reason);
        if (parsed.kind === "refused") return sendFrame(ws, parsed.reply);
        const frame = parsed.frame;
        switch (frame.type) {
          case "ping":
            return sendFrame(ws, { type: "pong" });
          case "stats":
            return sendFrame(ws, { type: "stats", ...this.figures() });
          case "auth.refresh":
            return this.refreshAuth(ws, conn, frame.token);
        }
      },
      internal,
    );
  }

  private async refreshAuth(ws: WebSocket, conn: InboxConnection, token: string): Promise<void> {
    const claims = await verifyAccessToken(this.env, token).catch(() => null);
    const live = claims !== null && (await sessionState(this.env, claims.sessionId, claims.userId)) === "live";
    if (!claims || !live || claims.userId !== conn.userId) {
      return sendFrame(ws, {
        type: "error",
        code: "unauthorized",
        message: "auth.refresh needs a valid access token of a live session of this user",
        ref: "auth.refresh",
      });
    }
    this.sockets.update(ws, { tokenExpiresAt: claims.expiresAt, warned: false });
    sendFrame(ws, { type: "auth.refreshed", expiresAt: claims.expiresAt });
    await this.reschedule();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.guard("webSocketClose", async () => this.onClosed(ws, code, reason));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.guard("webSocketError", async () => this.onClosed(ws, 1006, "error"));
  }

  private async onClosed(ws: WebSocket, code: number, reason: string): Promise<void> {
    const conn = this.sockets.of(ws);
    if (conn && !conn.departed) {
      logJson("info", {
        msg: "inbox socket disconnected",
        userId: conn.userId,
        connId: conn.connId,
        code,
        reason,
        durationMs: Date.now() - conn.connectedAt,
      });
    }
    this.gone(ws);
    this.sockets.remove(ws);
    await this.reschedule();
  }

  /** A socket ended (closed by either side or swept): the last one starts the grace period. */
  private gone(ws: WebSocket): void {
    const conn = this.sockets.of(ws);
    if (!conn || conn.departed) return;
    this.sockets.update(ws, { departed: true });
    if (this.sockets.count() > 0 || this.store.session === "off") return;
    const now = Date.now();
    this.store.setMeta("closedAt", now);
    this.announce(false, now);
  }

  // --- the session ----------------------------------------------------------------------------------------

  /** A session is on while a device is connected, and for the grace period after the last one left. */
  private active(now: number): boolean {
    if (this.store.session === "off") return false;
    if (this.sockets.count() > 0) return true;
    const closedAt = Number(this.store.getMeta("closedAt") ?? 0);
    // No recorded close (a restart dropped the sockets without close events): the session is over.
    return closedAt > 0 && now - closedAt < this.graceMs;
  }

  private startSession(): void {
    this.store.startEpoch(crypto.randomUUID());
    this.store.setMeta("loadFailures", 0);
    this.store.setMeta("loadRetryAt", 0);
    this.store.setMeta("pushes", 0);
    this.pushCount = 0;
    this.pendingList = [];
    this.ctx.waitUntil(this.load());
  }

  /** Ends the session: direct rooms learn the user went offline; the rest forget it on their next push. */
  private endSession(now: number): void {
    const epoch = this.store.epoch;
    const userId = this.userId;
    const lastSeen = Number(this.store.getMeta("closedAt") ?? 0) || now;
    const direct = [...this.store.allRooms().values()].filter((h) => h.entry.kind === "direct" && h.watched);
    this.store.endEpoch();
    this.pendingList = [];
    if (epoch && direct.length > 0) {
      this.ctx.waitUntil(
        mapBounded(direct, 4, (h) =>
          this.roomStub(h.entry.id)
            .unwatch(userId, epoch, lastSeen)
            .catch(() => undefined),
        ),
      );
    }
  }

  /** Reads the user's list from Postgres for a new session, then sends the snapshot to every device. */
  private load(): Promise<void> {
    this.loading ??= this.loadOnce().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async loadOnce(): Promise<void> {
    const epoch = this.store.epoch;
    const userId = this.userId;
    let data: Awaited<ReturnType<typeof loadInbox>>;
    try {
      data = await this.read((db) => loadInbox(db, userId));
    } catch (err) {
      if (this.store.epoch !== epoch) return;
      const failures = Number(this.store.getMeta("loadFailures") ?? 0) + 1;
      this.store.setMeta("loadFailures", failures);
      this.store.setMeta("loadRetryAt", Date.now() + backoff(failures));
      logJson("warn", { msg: "inbox could not read its list; will retry", userId, error: (err as Error).message });
      for (const [ws] of this.sockets.live()) {
        sendFrame(ws, {
          type: "error",
          code: "unavailable",
          message: "your rooms cannot be read right now; retrying",
          ref: "snapshot",
        });
      }
      await this.reschedule();
      return;
    }
    if (this.store.epoch !== epoch || this.store.session !== "loading") return;
    const jitter = wholeSetting(this.env, "INBOX_WATCH_JITTER_MS");
    const watchAt = Date.now() + Math.floor(Math.random() * jitter);
    this.ctx.storage.transactionSync(() => {
      this.store.putNames(data.people);
      this.store.setMeta("displayName", data.displayName);
      for (const room of data.rooms)
        this.store.putRoom({ entry: room, rev: 0, watched: false, failures: 0, retryAt: watchAt });
      this.store.setNotifications(data.notifications.latest);
      this.store.setMeta("notesUnread", data.notifications.unread);
      this.store.setMeta("loadRetryAt", 0);
      this.store.setMeta("session", "on");
    });
    const snapshot = JSON.stringify(this.snapshot());
    for (const [ws, conn] of this.sockets.live()) {
      if (conn.ready) continue;
      sendFrame(ws, snapshot);
      this.sockets.update(ws, { ready: true });
    }
    const pending = this.pendingList.splice(0);
    for (const change of pending) this.listChanged(change);
    if (this.notesAfterLoad) {
      this.notesAfterLoad = false;
      this.ctx.waitUntil(this.refreshNotifications());
    }
    await this.reschedule();
  }

  // --- registration with rooms ----------------------------------------------------------------------------

  /** Registers with every room not yet watched whose time has come, a few at a time. */
  private async watchDue(now: number): Promise<void> {
    if (this.watching || this.store.session !== "on") return;
    const due = [...this.store.allRooms().values()].filter((h) => !h.watched && h.retryAt <= now);
    if (due.length === 0) return;
    this.watching = true;
    try {
      const lanes = positiveSetting(this.env, "INBOX_WATCH_CONCURRENCY");
      await mapBounded(due, lanes, (h) => this.watchRoom(h.entry.id));
    } finally {
      this.watching = false;
    }
  }

  private async watchRoom(roomId: string): Promise<void> {
    const epoch = this.store.epoch;
    const held = this.store.room(roomId);
    if (!epoch || !held) return;
    let answer: WatchPush;
    try {
      answer = await this.roomStub(roomId).watch(roomId, {
        userId: this.userId,
        epoch,
        displayName: this.store.getMeta("displayName") ?? "",
        peerId: held.entry.peer?.id ?? null,
      });
    } catch (err) {
      const now = this.store.room(roomId);
      if (this.store.epoch !== epoch || !now) return;
      const failures = now.failures + 1;
      this.store.putRoom({ ...now, failures, retryAt: Date.now() + backoff(failures) });
      logJson("warn", { msg: "inbox could not register with a room", roomId, failures, error: (err as Error).message });
      return;
    }
    if (this.store.epoch !== epoch) return;
    const current = this.store.room(roomId);
    if (!current) {
      // Removed while the registration was on its way: undo it.
      this.ctx.waitUntil(
        this.roomStub(roomId)
          .unwatch(this.userId, epoch, null)
          .catch(() => undefined),
      );
      return;
    }
    if (isGone(answer)) return this.removeRoom(roomId, answer.removed);
    this.applyState({ ...current, watched: true, failures: 0, retryAt: 0 }, answer);
  }

  /** Brings the room's state into its entry if it is newer; a delta when the entry changed. */
  private applyState(held: HeldRoom, state: WatchedState): void {
    if (!isNewer(state, { version: held.entry.version, rev: held.rev })) {
      this.store.putRoom(held);
      return;
    }
    const next = mergeState(held.entry, state, (id) => this.store.name(id));
    const changed = JSON.stringify(next) !== JSON.stringify(held.entry);
    this.store.putRoom({ ...held, entry: next, rev: state.rev });
    if (!changed) return;
    // Rooms name senders they know (any member who has had an inbox); a name neither knows follows in a
    // second delta rather than holding the badge back for a Postgres read.
    if (next.lastMessage && next.lastMessage.senderName === null) {
      this.awaitingName.add(next.id);
      this.wantName(next.lastMessage.senderId);
    } else this.awaitingName.delete(next.id);
    this.emit({ type: "room", room: next });
  }

  private removeRoom(roomId: string, reason: RemovedReason): void {
    if (this.store.removeRoom(roomId)) this.emit({ type: "room.removed", roomId, reason });
  }

  /** Direct rooms learn that this user's devices came (first one) or went (last one). */
  private announce(online: boolean, at: number): void {
    const epoch = this.store.epoch;
    if (!epoch || this.store.session !== "on") return;
    const direct = [...this.store.allRooms().values()].filter((h) => h.entry.kind === "direct" && h.watched);
    if (direct.length === 0) return;
    const userId = this.userId;
    this.ctx.waitUntil(
      mapBounded(direct, 4, (h) =>
        this.roomStub(h.entry.id)
          .watcherPresence(userId, epoch, online, at)
          .catch(() => undefined),
      ),
    );
  }

  // --- RPC: rooms -----------------------------------------------------------------------------------------

  /**
   * A room pushes this user's state there. "gone" (no session, another epoch, not in my list) asks the
   * room to forget this registration.
   */
  roomState(epoch: string, push: WatchPush): Promise<PushAnswer> {
    return this.guard("roomState", async () => {
      this.pushCount = this.pushes() + 1;
      const now = Date.now();
      if (!this.active(now)) {
        if (this.store.session !== "off") this.endSession(now);
        return "gone";
      }
      if (epoch !== this.store.epoch || this.store.session !== "on") return "gone";
      const held = this.store.room(push.roomId);
      if (!held) return "gone";
      if (isGone(push)) {
        this.removeRoom(push.roomId, push.removed);
        return "gone";
      }
      this.applyState({ ...held, watched: true }, push);
      return "ok";
    });
  }

  // --- RPC: the worker ------------------------------------------------------------------------------------

  /** The user was added to a room (created, invited, joined, a direct room): list it and register. */
  roomAdded(roomId: string): Promise<void> {
    return this.guard("roomAdded", async () => this.listChanged({ kind: "added", roomId }));
  }

  /** The user left or was removed from a room (the room also says so to a registered inbox). */
  roomRemoved(roomId: string, reason: RemovedReason): Promise<void> {
    return this.guard("roomRemoved", async () => this.listChanged({ kind: "removed", roomId, reason }));
  }

  private listChanged(change: ListChange): void {
    if (!this.active(Date.now())) return;
    if (this.store.session === "loading") {
      this.pendingList.push(change);
      return;
    }
    if (change.kind === "added") {
      this.ctx.waitUntil(this.addRoom(change.roomId));
      return;
    }
    const held = this.store.room(change.roomId);
    if (!held) return;
    this.removeRoom(change.roomId, change.reason);
    const epoch = this.store.epoch;
    if (held.watched && epoch) {
      this.ctx.waitUntil(
        this.roomStub(change.roomId)
          .unwatch(this.userId, epoch, null)
          .catch(() => undefined),
      );
    }
  }

  private async addRoom(roomId: string): Promise<void> {
    const epoch = this.store.epoch;
    const userId = this.userId;
    let found: Awaited<ReturnType<typeof loadRoom>>;
    try {
      found = await this.read((db) => loadRoom(db, userId, roomId));
    } catch (err) {
      logJson("warn", { msg: "inbox could not read an added room", userId, roomId, error: (err as Error).message });
      return;
    }
    if (this.store.epoch !== epoch || this.store.session !== "on" || !found) return;
    if (this.store.room(roomId)) return;
    this.store.putNames(found.people);
    this.store.putRoom({ entry: found.room, rev: 0, watched: false, failures: 0, retryAt: 0 });
    this.emit({ type: "room", room: found.room });
    await this.watchRoom(roomId);
    await this.reschedule();
  }

  /** Notifications were created for the user, or read: send the count and what changed. */
  notificationsChanged(): Promise<void> {
    return this.guard("notificationsChanged", async () => {
      if (!this.active(Date.now())) return;
      if (this.store.session === "loading") {
        this.notesAfterLoad = true;
        return;
      }
      this.ctx.waitUntil(this.refreshNotifications());
    });
  }

  /** One read at a time; a change arriving meanwhile reads again after it (the last read is the newest). */
  private refreshNotifications(): Promise<void> {
    if (this.notes.running) {
      this.notes.again = true;
      return this.notes.running;
    }
    this.notes.running = (async () => {
      do {
        this.notes.again = false;
        const epoch = this.store.epoch;
        const userId = this.userId;
        let data: Awaited<ReturnType<typeof loadNotifications>>;
        try {
          data = await this.read((db) => loadNotifications(db, userId));
        } catch (err) {
          logJson("warn", { msg: "inbox could not read notifications", userId, error: (err as Error).message });
          return;
        }
        if (this.store.epoch !== epoch || this.store.session !== "on") return;
        const changed = this.store.setNotifications(data.latest);
        const before = Number(this.store.getMeta("notesUnread") ?? 0);
        this.store.setMeta("notesUnread", data.unread);
        if (changed.length > 0 || before !== data.unread) {
          this.emit({ type: "notifications", unread: data.unread, changed });
        }
      } while (this.notes.again);
    })().finally(() => {
      this.notes.running = null;
    });
    return this.notes.running;
  }

  /** Closes the user's devices (logout 4001, account ban 4003); the session ends after its grace. */
  disconnect(reason: DisconnectReason): Promise<number> {
    return this.guard("disconnect", async () => {
      const [code, text] = DISCONNECT_CLOSE[reason];
      const sockets = [...this.sockets.live()].map(([ws]) => ws);
      for (const ws of sockets) {
        closeQuietly(ws, code, text);
        this.gone(ws);
      }
      await this.reschedule();
      return sockets.length;
    });
  }

  /** RPC: figures for tests and operators. */
  async stats(): Promise<InboxStats> {
    return this.figures();
  }

  private figures(): InboxStats {
    const rooms = [...this.store.allRooms().values()];
    return {
      userId: this.store.getMeta("userId"),
      epoch: this.store.epoch,
      session: this.store.session,
      sockets: this.sockets.count(),
      n: this.store.lastN(),
      rooms: rooms.length,
      watching: rooms.filter((h) => h.watched).length,
      pushes: this.pushes(),
      deltas: this.store.lastN(),
    };
  }

  // --- names ----------------------------------------------------------------------------------------------

  private wantName(userId: string): void {
    this.namesWanted.add(userId);
    if (this.namesLoading) return;
    this.namesLoading = this.loadWantedNames().finally(() => {
      this.namesLoading = null;
    });
    this.ctx.waitUntil(this.namesLoading);
  }

  private async loadWantedNames(): Promise<void> {
    while (this.namesWanted.size > 0) {
      const ids = [...this.namesWanted];
      this.namesWanted.clear();
      let names: Map<string, string>;
      try {
        names = await this.read((db) => loadNames(db, ids));
      } catch {
        return; // the name stays null; the next preview by them asks again
      }
      if (this.store.session !== "on") return;
      this.store.putNames(names);
      for (const roomId of [...this.awaitingName]) {
        const held = this.store.room(roomId);
        const last = held?.entry.lastMessage;
        if (!held || !last || last.senderName !== null) {
          this.awaitingName.delete(roomId);
          continue;
        }
        const name = names.get(last.senderId);
        if (name === undefined) continue;
        this.awaitingName.delete(roomId);
        const entry = { ...held.entry, lastMessage: { ...last, senderName: name } };
        this.store.putRoom({ ...held, entry });
        this.emit({ type: "room", room: entry });
      }
    }
  }

  // --- the alarm ------------------------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.guard("alarm", async () => {
      const now = Date.now();
      for (const ws of this.sockets.sweep(now, this.heartbeatTimeoutMs)) this.gone(ws);
      if (this.store.session !== "off" && !this.active(now)) this.endSession(now);
      const retryAt = Number(this.store.getMeta("loadRetryAt") ?? 0);
      if (this.store.session === "loading" && retryAt > 0 && retryAt <= now) await this.load();
      await this.watchDue(now);
    }).catch(() => undefined);
    await this.reschedule();
  }

  /** Sets the alarm to the earliest thing the inbox must do next, or clears it. */
  private async reschedule(): Promise<void> {
    const now = Date.now();
    const times: number[] = [];
    const sockets = this.sockets.nextDeadline(this.heartbeatTimeoutMs);
    if (sockets !== null) times.push(sockets);
    const session = this.store.session;
    if (session !== "off" && this.sockets.count() === 0) {
      times.push(Number(this.store.getMeta("closedAt") ?? 0) + this.graceMs);
    }
    const retryAt = Number(this.store.getMeta("loadRetryAt") ?? 0);
    if (session === "loading" && retryAt > 0) times.push(retryAt);
    if (session === "on") {
      for (const h of this.store.allRooms().values()) if (!h.watched) times.push(h.retryAt);
    }
    if (times.length === 0) {
      if (this.alarmAt !== null) await this.ctx.storage.deleteAlarm();
      this.alarmAt = null;
      return;
    }
    const at = Math.max(Math.min(...times), now + MIN_DELAY_MS);
    if (this.alarmAt === at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  // --- helpers --------------------------------------------------------------------------------------------

  /** Numbers a delta, keeps it for reconnecting devices and sends it to every device that is ready. */
  private pushes(): number {
    this.pushCount ??= Number(this.store.getMeta("pushes") ?? 0);
    return this.pushCount;
  }

  private emit(delta: DistributiveOmit<InboxDelta, "n">): void {
    const frame = this.store.appendDelta(delta, positiveSetting(this.env, "INBOX_DELTA_LOG_SIZE"));
    this.store.setMeta("pushes", this.pushes());
    this.sockets.broadcast(JSON.stringify(frame));
  }

  private roomStub(roomId: string) {
    return this.env.ROOMS.get(this.env.ROOMS.idFromName(roomId));
  }

  private read<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    return withDeadline(PG_TIMEOUT_MS, (signal) => fn(createDb(this.env, { signal })));
  }

  /**
   * The one error path of every handler: logged once with an incident id, then the caller gets
   * `fallback(incident)` or, without one, the error (RPC callers and the worker see it).
   */
  private async guard<T>(handler: string, fn: () => Promise<T>, fallback?: (incident: string) => T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const incident = crypto.randomUUID().slice(0, 8);
      const error = err instanceof Error ? err : new Error(String(err));
      logJson("error", {
        msg: "inbox handler failed",
        handler,
        userId: this.store.getMeta("userId"),
        incident,
        error: error.message,
        stack: error.stack?.split("\n").slice(0, 6).join("\n"),
      });
      if (fallback) return fallback(incident);
      throw error;
    }
  }
}

function backoff(failures: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.max(0, failures - 1), RETRY_MAX_MS);
}
