/**
 * RoomConnection: one room's live stream with the guarantees made easy, on protocol 2 (the room's change
 * log). It loads the room's state from REST (a history page and the version it reflects), opens the
 * socket with `?since=<version>`, and applies every change after it exactly once and in order: the
 * catch-up's and the live ones alike, so `roomState` is what everyone else sees. It reconnects by itself
 * (exponential backoff with full jitter, capped; at once when a browser comes back online or to the
 * foreground, and it drops the socket as soon as the browser reports going offline), continues from the
 * version it has, keeps unacked sends (in IndexedDB in browsers, so they survive a reload) and resends them
 * with the same clientMsgId (the room acks a resend with the original seq and stores nothing twice),
 * answers auth.expiring with a refreshed token, and notices a dead network by a missed pong.
 */
import {
  type CustomData,
  clientFrame,
  type MessageView,
  PING_FRAME,
  type SendMessage,
  type ServerFrame,
} from "../protocol/frames";
import type { EdgechatClient } from "./client";
import { Emitter } from "./emitter";
import { EdgechatError } from "./errors";
import { indexedDbOutboxStorage, type OutboxStorage, type StoredSend } from "./outbox-storage";
import {
  applyChange,
  type ChangeFrame,
  ChangeLog,
  emptyState,
  fromPage,
  hasOlder,
  mergeMembers,
  mergePage,
  mergeRoom,
  type RoomSnapshot,
  type RoomState,
  snapshot,
  type VersionedPage,
} from "./room-state";
import { OPEN, type SocketLike } from "./transport";

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

type Frame<T extends ServerFrame["type"]> = Omit<Extract<ServerFrame, { type: T }>, "type">;

/** A send not yet acknowledged, as `pendingSends` lists it. */
export interface PendingSend {
  clientMsgId: string;
  body: string;
  replyTo?: number;
  createdAt: number;
}

export interface RoomEvents extends Record<string, unknown> {
  state: ConnectionState;
  welcome: Frame<"welcome">;
  /** Every message once, in seq order (those of the first history page are in `roomState` instead). */
  message: MessageView;
  edited: Frame<"edited">;
  deleted: Frame<"deleted">;
  reaction: Frame<"reaction">;
  pinned: Frame<"pinned">;
  receipt: Frame<"receipt">;
  member: Frame<"member">;
  room: Frame<"room">;
  /** A change by someone this user blocks: not shown (`seq`: a message that exists but is hidden). */
  hidden: Frame<"hidden">;
  /** Every change applied to `roomState`, in version order, after the typed event above. */
  change: ChangeFrame;
  /** The catch-up reached the room's version: from here on changes are live. */
  synced: { version: number };
  /** The room could not continue from our version: the state was dropped and is being reloaded. */
  resync: { version: number };
  typing: Frame<"typing">;
  presence: Frame<"presence">;
  throttled: Frame<"throttled">;
  /** A send the room refused for good (it is no longer pending): what it was, and why. */
  failed: { clientMsgId: string; code: string; message: string; send: PendingSend };
  error: Frame<"error"> | { code: "closed"; message: string };
}

export interface RoomConnectionOptions {
  /**
   * Deliver (as `message` events) every message after this seq on the first connect: 0 replays the room
   * from its first change. Default: the state starts from the newest history page, and only messages
   * after it are `message` events.
   */
  afterSeq?: number;
  /** Messages in the first history page (and in each `loadOlder`), at most 100. Default 50. */
  pageSize?: number;
  /**
   * Where unacked sends are kept across reloads. Default: IndexedDB in browsers, none elsewhere (memory
   * for as long as the connection lives). Pass `memoryOutboxStorage()` shared between connections to get
   * the browser behaviour in Node.
   */
  outbox?: OutboxStorage | null;
  /** Backoff: first delay and cap, ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How often to ping, and how long to wait for the pong before calling the network dead. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
}

interface Pending {
  frame: SendMessage & { type: "send" };
  stored: StoredSend;
  resolve?: (r: { seq: number; duplicate: boolean }) => void;
  reject?: (e: Error) => void;
}

/** How long an opened socket may go without its welcome frame before the connection tries again. */
const WELCOME_TIMEOUT_MS = 10_000;
/** How soon a catch-up the room could not serve (history unavailable), or a failed REST read, is retried. */
const RETRY_MS = 1000;

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSES = new Set([4003, 4004]);

let sendOrder = 0;

export class RoomConnection extends Emitter<RoomEvents> {
  readonly roomId: string;
  private readonly client: EdgechatClient;
  private readonly opts: Required<Omit<RoomConnectionOptions, "afterSeq" | "outbox">>;
  private readonly storage: OutboxStorage | null;
  private socket: SocketLike | null = null;
  private status: ConnectionState = "idle";
  /** Where the first load starts (afterSeq); null after it, and by default. */
  private startAfter: number | null;
  /** The room as this client holds it; null until loaded (and after a resync, until reloaded). */
  private kept: RoomState | null = null;
  /** The changes applied lately, to bring reads made at older versions forward. */
  private readonly log = new ChangeLog();
  /** Bumped whenever the state is dropped, so a read started before cannot land on its successor. */
  private epoch = 0;
  /** Highest seq given to `message` listeners, in order. */
  private emitted: number | null = null;
  private readonly subscribers = new Set<(state: RoomState | null) => void>();
  /**
   * Unacked sends in the order the app made them. One is on the wire at a time: with several in flight,
   * a throttled send could be overtaken by the next one once the window opened, storing "5" before "4".
   */
  private readonly outbox = new Map<string, Pending>();
  /** Stored sends from an earlier run are read before anything goes on the wire. */
  private restored = false;
  /** The clientMsgId on the wire (sent, not yet answered), or null. */
  private inFlight: string | null = null;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** A catch-up round the room could not serve is asked again after this timer. */
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  /** A room or members read that failed is tried again after this timer. */
  private partsTimer: ReturnType<typeof setTimeout> | undefined;
  private partsLoading = false;
  /** A `sync` asked (gap or `more`) whose `synced` has not come yet. */
  private syncAsked = false;
  /** A socket that opened but was never welcomed is given up after WELCOME_TIMEOUT_MS. */
  private welcomeTimer: ReturnType<typeof setTimeout> | undefined;
  private opening = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  /** When the unanswered ping went out; null when none is outstanding. */
  private pingSentAt: number | null = null;
  private readonly wake = () => {
    if (this.status === "reconnecting") this.reconnectNow();
  };
  /** The browser says the network is gone: do not wait for a missed pong to believe it. */
  private readonly offline = () => {
    const socket = this.socket;
    if (!socket || this.status === "closed") return;
    this.socket = null;
    try {
      socket.close(4000, "offline");
    } catch {
      // already closing
    }
    this.onClose(1006, "offline");
  };

  constructor(client: EdgechatClient, roomId: string, opts: RoomConnectionOptions = {}) {
    super();
    this.client = client;
    this.roomId = roomId;
    this.startAfter = opts.afterSeq ?? null;
    this.storage = opts.outbox !== undefined ? opts.outbox : indexedDbOutboxStorage();
    this.opts = {
      pageSize: Math.min(100, opts.pageSize ?? 50),
      minDelayMs: opts.minDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 30_000,
      pingIntervalMs: opts.pingIntervalMs ?? 25_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 10_000,
    };
  }

  /** The connection's state (see `roomState` for the room's). */
  get state(): ConnectionState {
    return this.status;
  }

  /** The room as this client holds it, at `roomState.version`; null until the first load. */
  get roomState(): RoomState | null {
    return this.kept;
  }

  /** A canonical plain object of `roomState`, equal for every client holding the same room. */
  snapshot(opts: { fromSeq?: number } = {}): RoomSnapshot | null {
    return this.kept ? snapshot(this.kept, opts) : null;
  }

  /**
   * Calls `listener` after every change to `roomState` (a change applied, a page or the room read merged,
   * a resync) or to `pendingSends`. Returns the unsubscribe function.
   */
  subscribe(listener: (state: RoomState | null) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  /** The last seq given to `message` listeners in order. */
  get lastSeq(): number | null {
    return this.emitted;
  }

  /** Sends not yet acknowledged (kept across reconnects, and reloads where storage persists). */
  get pending(): number {
    return this.outbox.size;
  }

  /** The unacknowledged sends, oldest first (restored ones from an earlier run included). */
  get pendingSends(): PendingSend[] {
    return [...this.outbox.values()].map((p) => pendingView(p.stored));
  }

  connect(): this {
    if (this.status !== "idle" && this.status !== "closed") return this;
    const g = globalThis as { addEventListener?: (t: string, f: () => void) => void };
    g.addEventListener?.("online", this.wake);
    g.addEventListener?.("visibilitychange", this.wake);
    g.addEventListener?.("offline", this.offline);
    if (!this.restored) void this.restore();
    this.open("connecting");
    return this;
  }

  /**
   * Closes for good; unacked sends are rejected. Where the outbox persists (browsers) they stay stored and
   * go out when this room is opened again, as after a reload.
   */
  close(): void {
    this.shutdown(false);
  }

  private shutdown(forget: boolean): void {
    this.setState("closed");
    this.teardown();
    clearTimeout(this.partsTimer);
    this.socket?.close(1000, "client closed");
    this.socket = null;
    const g = globalThis as { removeEventListener?: (t: string, f: () => void) => void };
    g.removeEventListener?.("online", this.wake);
    g.removeEventListener?.("visibilitychange", this.wake);
    g.removeEventListener?.("offline", this.offline);
    for (const p of this.outbox.values()) {
      p.reject?.(new EdgechatError(0, "network", "connection closed"));
      if (forget) this.unstore(p.stored.clientMsgId);
    }
    this.outbox.clear();
    this.inFlight = null;
    this.notify();
  }

  /**
   * Sends a message; resolves with its seq once the room has stored it. Offline, it waits in the outbox
   * and goes out (with the same clientMsgId) as soon as the connection is back; sends go out one at a
   * time, in the order made, so they are stored in that order.
   */
  send(
    body: string,
    extra: { replyTo?: number; attachments?: string[]; clientMsgId?: string; custom?: CustomData } = {},
  ): Promise<{ seq: number; duplicate: boolean; clientMsgId: string }> {
    const stored: StoredSend = {
      clientMsgId: extra.clientMsgId ?? crypto.randomUUID(),
      body,
      ...(extra.replyTo !== undefined ? { replyTo: extra.replyTo } : {}),
      ...(extra.attachments ? { attachments: extra.attachments } : {}),
      ...(extra.custom ? { custom: extra.custom } : {}),
      createdAt: Date.now(),
      order: sendOrder++,
    };
    const frame = toFrame(stored);
    return new Promise((resolve, reject) => {
      if (this.status === "closed") {
        reject(new EdgechatError(0, "network", "connection closed"));
        return;
      }
      const known = this.outbox.get(stored.clientMsgId);
      if (known) known.reject?.(new EdgechatError(0, "network", "sent again"));
      this.outbox.set(stored.clientMsgId, {
        frame,
        stored: known?.stored ?? stored,
        resolve: (r) => resolve({ ...r, clientMsgId: stored.clientMsgId }),
        reject,
      });
      if (!known) this.store(stored);
      this.notify();
      this.pump();
    });
  }

  edit(seq: number, body: string): void {
    this.write(clientFrame.parse({ type: "edit", seq, body }));
  }
  delete(seq: number): void {
    this.write({ type: "delete", seq });
  }
  react(seq: number, emoji: string, on = true): void {
    this.write(clientFrame.parse({ type: "react", seq, emoji, on }));
  }
  typing(on: boolean): void {
    this.write({ type: "typing", on });
  }
  read(seq: number): void {
    this.write({ type: "read", seq });
  }

  /**
   * Loads the page of messages before the oldest one held into `roomState`. Resolves with whether older
   * messages remain.
   */
  async loadOlder(limit = this.opts.pageSize): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = this.kept;
      if (!held || !hasOlder(held) || held.oldestSeq === null) return false;
      const epoch = this.epoch;
      const page = versioned(await this.client.messages.history(this.roomId, { before: held.oldestSeq, limit }));
      if (epoch !== this.epoch || !this.kept) return false;
      const merged = mergePage(this.kept, page, this.log.all);
      if (merged) {
        this.setKept(merged);
        return hasOlder(merged);
      }
      // The page is older than the changes kept here reach back to: read it again.
    }
    throw new EdgechatError(503, "unavailable", "history trails this room too far; try again");
  }

  // --- connection lifecycle ----------------------------------------------------------------------

  /** Read as a method: TypeScript would keep a narrowing of `status` across an await. */
  private get closed(): boolean {
    return this.status === "closed";
  }

  private setState(next: ConnectionState): void {
    if (this.status === next) return;
    this.status = next;
    this.emit("state", next);
  }

  private async open(state: "connecting" | "reconnecting"): Promise<void> {
    if (this.opening) return;
    this.opening = true;
    this.setState(state);
    let socket: SocketLike;
    try {
      if (!this.kept) await this.load();
      const held = this.kept as RoomState | null;
      if (this.closed || !held) return;
      const { ticket } = await this.client.wsTicket(this.roomId);
      if (this.closed) return;
      const url = this.client
        .url(`/api/rooms/${this.roomId}/ws`, { ticket, since: held.version, batch: 1 }) // batch: issue 24
        .replace(/^http/, "ws");
      socket = this.client.socketFactory(url);
    } catch (err) {
      // No access at all (removed from the room, account gone): retrying cannot help. Unsent messages are
      // dropped when the room is out of reach for good, kept when only the session ended (signing in again
      // as the same user sends them).
      if (err instanceof EdgechatError && (err.status === 404 || err.status === 401 || err.status === 403)) {
        this.emit("error", { code: "closed", message: err.message });
        this.shutdown(err.status !== 401);
        return;
      }
      this.scheduleReconnect();
      return;
    } finally {
      this.opening = false;
    }
    this.socket = socket;
    this.syncAsked = false;
    clearTimeout(this.welcomeTimer);
    this.welcomeTimer = setTimeout(() => {
      if (this.socket !== socket || this.status === "open") return;
      // Upgraded (or hanging) with no welcome: a half-open path; try again rather than wait in silence.
      this.socket = null;
      socket.close(4000, "no welcome");
      this.onClose(1006, "no welcome");
    }, WELCOME_TIMEOUT_MS);
    socket.addEventListener("message", (e) => {
      if (this.socket === socket) this.onFrame(String(e.data));
    });
    socket.addEventListener("close", (e) => {
      if (this.socket === socket) this.onClose(e.code, e.reason);
    });
  }

  private onClose(code: number, reason: string): void {
    this.teardown();
    this.socket = null;
    if (this.status === "closed") return;
    if (FINAL_CLOSES.has(code)) {
      this.emit("error", { code: "closed", message: reason || `closed with ${code}` });
      this.shutdown(true);
      return;
    }
    if (code === 4001) {
      // The token ran out or the session ended: a refresh decides which.
      this.client.refresh().then(
        () => this.scheduleReconnect(true),
        (err: Error) => {
          this.emit("error", { code: "closed", message: `signed out: ${err.message}` });
          this.close();
        },
      );
      this.setState("reconnecting");
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(now = false): void {
    if (this.status === "closed") return;
    this.setState("reconnecting");
    clearTimeout(this.retryTimer);
    const cap = Math.min(this.opts.maxDelayMs, this.opts.minDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    // Full jitter: clients dropped together do not come back together.
    const delay = now ? 0 : Math.random() * cap;
    this.retryTimer = setTimeout(() => this.open("reconnecting"), delay);
  }

  private reconnectNow(): void {
    clearTimeout(this.retryTimer);
    this.open("reconnecting");
  }

  private teardown(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.holdTimer);
    clearTimeout(this.syncTimer);
    clearTimeout(this.welcomeTimer);
    clearInterval(this.pingTimer);
    this.pingSentAt = null;
    this.syncAsked = false;
  }

  private write(frame: unknown): void {
    if (this.socket?.readyState === OPEN && this.status === "open") this.socket.send(JSON.stringify(frame));
  }

  private startHeartbeat(): void {
    clearInterval(this.pingTimer);
    this.pingSentAt = null;
    let lastPing = Date.now();
    this.pingTimer = setInterval(
      () => {
        const socket = this.socket;
        if (socket?.readyState !== OPEN) return;
        if (this.pingSentAt !== null) {
          // No pong in time: the network is gone even if no close event ever comes.
          if (Date.now() - this.pingSentAt < this.opts.pongTimeoutMs) return;
          this.socket = null;
          try {
            socket.close(4000, "pong timeout");
          } catch {
            // already closing
          }
          this.onClose(1006, "pong timeout");
          return;
        }
        if (Date.now() - lastPing < this.opts.pingIntervalMs) return;
        lastPing = Date.now();
        this.pingSentAt = lastPing;
        socket.send(PING_FRAME);
      },
      Math.max(10, Math.min(this.opts.pingIntervalMs, this.opts.pongTimeoutMs) / 2),
    );
  }

  // --- the room's state ----------------------------------------------------------------------------

  /**
   * Reads the state to start from. By default the newest history page (its messages are state, not
   * `message` events); with afterSeq, every message after it (as events): from version 0 for afterSeq 0,
   * else the pages after it. Then the room's settings, read marks and members, without holding up the
   * socket.
   */
  private async load(): Promise<void> {
    const me = await this.client.whoAmI();
    const epoch = this.epoch;
    const after = this.startAfter;
    let state: RoomState;
    let toEmit: MessageView[] = [];
    if (after === 0) {
      state = emptyState(this.roomId, me, 0);
    } else if (after !== null) {
      const pages: VersionedPage[] = [];
      let cursor: number | null = after;
      while (cursor !== null) {
        const page = versioned(
          await this.client.messages.history(this.roomId, { after: cursor, limit: this.opts.pageSize }),
        );
        pages.push(page);
        cursor = page.messages.length < this.opts.pageSize ? null : (page.messages.at(-1)?.seq ?? null);
      }
      const [first, ...rest] = pages as [VersionedPage, ...VersionedPage[]];
      state = fromPage(this.roomId, me, first);
      // Later pages are read at later versions: they are ahead of the state, which mergePage allows.
      for (const p of rest) state = mergePage(state, p, []) ?? state;
      toEmit = pages.flatMap((p) => p.messages);
    } else {
      const page = versioned(await this.client.messages.history(this.roomId, { limit: this.opts.pageSize }));
      state = fromPage(this.roomId, me, page);
      // The first page is state, not news; after a resync, what it holds past the last event is news.
      toEmit = page.messages;
    }
    if (epoch !== this.epoch) return;
    this.startAfter = null;
    if (after !== null) this.emitted = after;
    else this.emitted ??= toEmit.reduce((max, m) => Math.max(max, m.seq), 0);
    this.log.clear();
    this.setKept(state);
    for (const m of [...toEmit].sort((a, b) => a.seq - b.seq)) this.emitMessage(m);
    void this.loadRoomParts();
  }

  /** The room endpoint (settings, read marks) and the members, merged at whatever version they were read. */
  private async loadRoomParts(): Promise<void> {
    const held = this.kept;
    if (!held || this.partsLoading || (held.settings && held.members)) return;
    this.partsLoading = true;
    clearTimeout(this.partsTimer);
    const epoch = this.epoch;
    const readFrom = held.version;
    try {
      const [detail, members] = await Promise.all([
        this.client.rooms.get(this.roomId),
        this.client.rooms.members(this.roomId),
      ]);
      if (epoch !== this.epoch || !this.kept) return;
      let next = mergeRoom(this.kept, { ...detail, name: detail.name ?? null }, this.log.all);
      next = next && mergeMembers(next, members, readFrom, this.log.all);
      if (!next) throw new Error("read too far behind the changes kept");
      this.setKept(next);
    } catch {
      if (this.status !== "closed") this.partsTimer = setTimeout(() => this.loadRoomParts(), RETRY_MS);
    } finally {
      this.partsLoading = false;
    }
  }

  private setKept(state: RoomState | null): void {
    this.kept = state;
    this.notify();
  }

  private notify(): void {
    for (const listener of this.subscribers) {
      try {
        listener(this.kept);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private emitMessage(m: MessageView): void {
    if (this.emitted !== null && m.seq <= this.emitted) return;
    this.emitted = m.seq;
    const { type: _t, v: _v, ...view } = m as MessageView & { type?: string; v?: number };
    this.emit("message", view);
  }

  /** A change frame: applied if it is the next one, dropped if seen, a catch-up asked if ahead. */
  private onChange(change: ChangeFrame): void {
    const held = this.kept;
    if (!held || change.v <= held.version) return;
    if (change.v > held.version + 1) {
      // Never applied ahead of order: ask for what lies between (the room holds the socket meanwhile).
      this.askSync();
      return;
    }
    this.log.push(change);
    this.kept = applyChange(held, change);
    const { type, ...rest } = change;
    if (type === "message") this.emitMessage(change);
    else this.emit(type, rest as never);
    this.emit("change", change);
    this.notify();
  }

  private askSync(): void {
    if (this.syncAsked || !this.kept) return;
    this.syncAsked = true;
    this.write({ type: "sync", since: this.kept.version });
  }

  /** The room cannot continue from our version: drop the state, reload it, and carry on from there. */
  private resync(): void {
    const version = this.kept?.version ?? 0;
    this.epoch += 1;
    this.log.clear();
    this.setKept(null);
    this.emit("resync", { version });
    const socket = this.socket;
    this.socket = null;
    socket?.close(4000, "resync");
    this.teardown();
    this.scheduleReconnect(true);
  }

  // --- frames -----------------------------------------------------------------------------------

  private onFrame(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    // --- batching (issue 24) ---
    // Opened with ?batch=1: a busy room gathers broadcasts into `batch {frames}`; each frame applies in
    // order, exactly as if it had arrived alone (the room never reorders or nests them).
    if (frame.type === "batch") {
      for (const one of frame.frames) this.onServerFrame(one);
      return;
    }
    this.onServerFrame(frame);
  }

  private onServerFrame(frame: ServerFrame): void {
    // --- end batching ---
    // Every frame with a version is a change (kinds this SDK does not know included: they take theirs).
    if (typeof (frame as { v?: unknown }).v === "number") {
      this.onChange(frame as ChangeFrame);
      return;
    }
    switch (frame.type) {
      case "pong":
        this.pingSentAt = null;
        return;
      case "welcome":
        this.onWelcome(frame);
        return;
      case "synced":
        this.syncAsked = false;
        if (frame.more) this.askSync();
        else this.emit("synced", { version: this.kept?.version ?? frame.toVersion });
        return;
      case "message":
      case "resumed":
        // Protocol 1 frames (no version): this connection speaks protocol 2.
        return;
      case "ack": {
        const p = this.outbox.get(frame.clientMsgId);
        this.settle(frame.clientMsgId);
        p?.resolve?.({ seq: frame.seq, duplicate: frame.duplicate === true });
        this.answered(frame.clientMsgId);
        return;
      }
      case "throttled": {
        this.emit("throttled", {
          retryAfterMs: frame.retryAfterMs,
          clientMsgId: frame.clientMsgId,
          ...(frame.reason ? { reason: frame.reason } : {}),
        });
        // Still wanted, and still first: it goes again when the window allows (same clientMsgId, so
        // never twice), and every later send waits behind it.
        if (frame.clientMsgId && frame.clientMsgId === this.inFlight) {
          clearTimeout(this.holdTimer);
          this.holdTimer = setTimeout(() => {
            this.inFlight = null;
            this.pump();
          }, frame.retryAfterMs);
        }
        return;
      }
      case "error": {
        const p = frame.ref ? this.outbox.get(frame.ref) : undefined;
        if (p && frame.ref) {
          this.settle(frame.ref);
          p.reject?.(new EdgechatError(0, frame.code, frame.message));
          const send = pendingView(p.stored);
          this.emit("failed", { clientMsgId: frame.ref, code: frame.code, message: frame.message, send });
          this.answered(frame.ref);
        }
        if (frame.code === "resync_required") this.resync();
        else if (frame.ref === "sync") {
          // The room could not read its older changes (Postgres away). The socket stays held, so nothing
          // arrives out of order meanwhile: ask again shortly from what we have.
          this.syncAsked = false;
          clearTimeout(this.syncTimer);
          this.syncTimer = setTimeout(() => this.askSync(), RETRY_MS);
        }
        this.emit("error", { code: frame.code, message: frame.message, ...(frame.ref ? { ref: frame.ref } : {}) });
        return;
      }
      case "auth.expiring":
        // A key's socket is not extended: it closes at its end (4001) and reconnects while the key works.
        if (this.client.usesApiKey) return;
        this.client.refresh().then(
          (s) => this.write({ type: "auth.refresh", token: s.accessToken }),
          () => undefined,
        );
        return;
      case "auth.refreshed":
        return;
      case "presence.batch":
        for (const change of frame.changes) this.emit("presence", change);
        return;
      default: {
        const { type, ...rest } = frame;
        this.emit(type, rest as never);
      }
    }
  }

  private onWelcome(frame: Frame<"welcome">): void {
    clearTimeout(this.welcomeTimer);
    this.attempt = 0;
    this.setState("open");
    this.startHeartbeat();
    this.emit("welcome", frame);
    if (this.kept && (!this.kept.settings || !this.kept.members)) void this.loadRoomParts();
    // Whatever was on the wire may not have arrived: the head goes again (the room dedupes it).
    clearTimeout(this.holdTimer);
    this.inFlight = null;
    this.pump();
  }

  // --- the outbox ----------------------------------------------------------------------------------

  private get storageKey(): string | null {
    const me = this.client.userId;
    return me ? `${me}:${this.roomId}` : null;
  }

  /** Puts sends stored by an earlier run ahead of any made since, then lets the outbox go. */
  private async restore(): Promise<void> {
    const key = this.storageKey;
    try {
      const stored = this.storage && key ? await this.storage.load(key) : [];
      if (stored.length > 0) {
        const made = [...this.outbox];
        this.outbox.clear();
        for (const s of stored) {
          if (!made.some(([id]) => id === s.clientMsgId))
            this.outbox.set(s.clientMsgId, { frame: toFrame(s), stored: s });
        }
        for (const [id, p] of made) this.outbox.set(id, p);
      }
    } catch {
      // Storage unreadable (private mode, quota): this run's sends still go.
    }
    this.restored = true;
    this.notify();
    this.pump();
  }

  private store(send: StoredSend): void {
    const key = this.storageKey;
    if (this.storage && key) this.storage.put(key, send).catch(() => undefined);
  }

  private unstore(clientMsgId: string): void {
    const key = this.storageKey;
    if (this.storage && key) this.storage.delete(key, clientMsgId).catch(() => undefined);
  }

  /** The room answered this send for good: it leaves the outbox and the storage. */
  private settle(clientMsgId: string): void {
    if (!this.outbox.delete(clientMsgId)) return;
    this.unstore(clientMsgId);
    this.notify();
  }

  /** Puts the oldest unacked send on the wire, unless one is already there or the socket is not open. */
  private pump(): void {
    if (!this.restored || this.inFlight !== null || this.status !== "open" || this.socket?.readyState !== OPEN) return;
    const head = this.outbox.values().next();
    if (head.done) return;
    this.inFlight = head.value.frame.clientMsgId;
    this.write(head.value.frame);
  }

  private answered(clientMsgId: string): void {
    if (this.inFlight !== clientMsgId) return;
    clearTimeout(this.holdTimer);
    this.inFlight = null;
    this.pump();
  }
}

function pendingView(s: StoredSend): PendingSend {
  return {
    clientMsgId: s.clientMsgId,
    body: s.body,
    createdAt: s.createdAt,
    ...(s.replyTo !== undefined ? { replyTo: s.replyTo } : {}),
  };
}

function toFrame(s: StoredSend): SendMessage & { type: "send" } {
  return clientFrame.parse({
    type: "send",
    clientMsgId: s.clientMsgId,
    body: s.body,
    ...(s.replyTo !== undefined ? { replyTo: s.replyTo } : {}),
    ...(s.attachments ? { attachments: s.attachments } : {}),
    ...(s.custom ? { custom: s.custom } : {}),
  }) as SendMessage & { type: "send" };
}

/**
 * A page usable as state: read from Postgres, with the version it reflects. A page from the Redis buffer
 * (Postgres failed mid-request) has no version; it is refused, and the read is tried again.
 */
function versioned(page: { version: number | null; messages: unknown[] }): VersionedPage {
  if (page.version === null) throw new EdgechatError(503, "unavailable", "history is provisional right now");
  return page as VersionedPage;
}
