/**
 * InboxConnection: the one socket of a device to the user's inbox (`GET /api/me/ws`), with its state kept:
 * every room of mine newest activity first, with its unread count, mentions, preview, read mark and, for
 * direct rooms, the other person and whether they are online; the total unread; my notifications.
 *
 * It connects with a single-use ticket, takes the snapshot, then applies every numbered delta once and in
 * order. It reconnects by itself (exponential backoff with full jitter; at once when a browser comes back
 * online or to the foreground) with the epoch and number it has, so the inbox sends exactly the deltas it
 * missed (or a fresh snapshot when they are gone); a delta that skips a number makes it reconnect the same
 * way, so nothing is ever applied out of order. It answers auth.expiring with a refreshed token and notices a
 * dead network by a missed pong. Open one per device, plus the RoomConnection of the room on screen.
 */
import { PING_FRAME } from "../protocol/frames";
import type { InboxDelta, InboxFrame, InboxRoom, NotificationItem, RemovedReason } from "../protocol/inbox";
import type { EdgechatClient } from "./client";
import { Emitter } from "./emitter";
import { EdgechatError } from "./errors";
import { applyDelta, fromSnapshot, InboxGapError, type InboxState } from "./inbox-state";
import type { ConnectionState } from "./room-connection";
import { OPEN, type SocketLike } from "./transport";

export interface InboxEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** A whole new state (first connect, or a reconnect that could not catch up from its number). */
  snapshot: InboxState;
  /** A room joined my list (created, invited, joined, a direct room started). */
  "room.added": InboxRoom;
  /** Something in a room of mine changed: badge, mentions, preview, read mark, name, peer's presence. */
  room: InboxRoom;
  "room.removed": { roomId: string; reason: RemovedReason };
  /** Notifications created or changed (read elsewhere, a digest grown), and the unread count. */
  notifications: { unread: number; changed: NotificationItem[] };
  /** The totals, whenever either changes. */
  unread: { total: number; notifications: number };
  /** The kept state after every snapshot and delta (render from this). */
  change: InboxState;
  /** Caught up after a reconnect: the deltas after `fromN` were applied. */
  synced: { fromN: number; toN: number };
  error: { code: string; message: string };
}

export interface InboxOptions {
  /** Backoff: first delay and cap, ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How often to ping, and how long to wait for the pong before calling the network dead. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
}

/** How long an opened socket may go without its first frame before the connection tries again. */
const FIRST_FRAME_TIMEOUT_MS = 10_000;
/** Close codes after which reconnecting cannot help (account suspended). */
const FINAL_CLOSES = new Set([4003]);

export class InboxConnection extends Emitter<InboxEvents> {
  private readonly client: EdgechatClient;
  private readonly opts: Required<InboxOptions>;
  private socket: SocketLike | null = null;
  private status: ConnectionState = "idle";
  private kept: InboxState | null = null;
  /** The socket has had its snapshot or catch-up: deltas apply from here. */
  private started = false;
  private opening = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private firstFrameTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pingSentAt: number | null = null;
  private readonly subscribers = new Set<(state: InboxState | null) => void>();
  private readonly wake = () => {
    if (this.status === "reconnecting") {
      clearTimeout(this.retryTimer);
      void this.open("reconnecting");
    }
  };
  private readonly offline = () => this.dropSocket("offline");

  constructor(client: EdgechatClient, opts: InboxOptions = {}) {
    super();
    this.client = client;
    this.opts = {
      minDelayMs: opts.minDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 30_000,
      pingIntervalMs: opts.pingIntervalMs ?? 25_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 10_000,
    };
  }

  /** The connection's state (see `inboxState` for the inbox's). */
  get state(): ConnectionState {
    return this.status;
  }

  /** The inbox as this device holds it; null until the first snapshot. */
  get inboxState(): InboxState | null {
    return this.kept;
  }

  /** My rooms, newest activity first (empty until the first snapshot). */
  get rooms(): InboxRoom[] {
    return this.kept?.rooms ?? [];
  }

  get totalUnread(): number {
    return this.kept?.totalUnread ?? 0;
  }

  room(roomId: string): InboxRoom | undefined {
    return this.kept?.rooms.find((r) => r.id === roomId);
  }

  /** Calls `listener` with the state now and after every change; returns the unsubscribe. */
  subscribe(listener: (state: InboxState | null) => void): () => void {
    this.subscribers.add(listener);
    listener(this.kept);
    return () => this.subscribers.delete(listener);
  }

  connect(): this {
    if (this.status !== "idle" && this.status !== "closed") return this;
    const g = globalThis as { addEventListener?: (t: string, f: () => void) => void };
    g.addEventListener?.("online", this.wake);
    g.addEventListener?.("visibilitychange", this.wake);
    g.addEventListener?.("offline", this.offline);
    void this.open("connecting");
    return this;
  }

  /** Closes for good (call `connect()` again to come back; the state is kept and caught up). */
  close(): void {
    this.setState("closed");
    this.teardown();
    const socket = this.socket;
    this.socket = null;
    try {
      socket?.close(1000, "client closed");
    } catch {
      // already closing
    }
    const g = globalThis as { removeEventListener?: (t: string, f: () => void) => void };
    g.removeEventListener?.("online", this.wake);
    g.removeEventListener?.("visibilitychange", this.wake);
    g.removeEventListener?.("offline", this.offline);
  }

  private write(frame: unknown): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  // --- connection lifecycle ----------------------------------------------------------------------------

  private get closed(): boolean {
    return this.status === "closed";
  }

  private setState(next: ConnectionState): void {
    if (this.status === next) return;
    this.status = next;
    this.emit("state", next);
  }

  private async open(state: "connecting" | "reconnecting"): Promise<void> {
    if (this.opening || this.closed) return;
    this.opening = true;
    this.setState(state);
    let socket: SocketLike;
    try {
      const { ticket } = await this.client.inboxTicket();
      if (this.closed) return;
      const held = this.kept;
      const query = held ? { ticket, epoch: held.epoch, since: held.n } : { ticket };
      socket = this.client.socketFactory(this.client.url("/api/me/ws", query).replace(/^http/, "ws"));
    } catch (err) {
      if (err instanceof EdgechatError && (err.status === 401 || err.status === 403)) {
        this.emit("error", { code: "closed", message: err.message });
        this.close();
        return;
      }
      this.scheduleReconnect();
      return;
    } finally {
      this.opening = false;
    }
    this.socket = socket;
    this.started = false;
    clearTimeout(this.firstFrameTimer);
    this.firstFrameTimer = setTimeout(() => {
      if (this.socket === socket && !this.started) this.dropSocket("no snapshot");
    }, FIRST_FRAME_TIMEOUT_MS);
    socket.addEventListener("message", (e) => {
      if (this.socket === socket) this.onFrame(String(e.data));
    });
    socket.addEventListener("close", (e) => {
      if (this.socket === socket) this.onClose(e.code, e.reason);
    });
  }

  /** Gives up on the current socket (dead network, a gap, no first frame) and reconnects. */
  private dropSocket(reason: string): void {
    const socket = this.socket;
    if (!socket || this.closed) return;
    this.socket = null;
    try {
      socket.close(4000, reason);
    } catch {
      // already closing
    }
    this.onClose(1006, reason);
  }

  private onClose(code: number, reason: string): void {
    this.teardown();
    this.socket = null;
    if (this.closed) return;
    if (FINAL_CLOSES.has(code)) {
      this.emit("error", { code: "closed", message: reason || `closed with ${code}` });
      this.close();
      return;
    }
    if (code === 4001) {
      // The token ran out or the session ended: a refresh decides which.
      this.setState("reconnecting");
      this.client.refresh().then(
        () => this.scheduleReconnect(true),
        (err: Error) => {
          this.emit("error", { code: "closed", message: `signed out: ${err.message}` });
          this.close();
        },
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(now = false): void {
    if (this.closed) return;
    this.setState("reconnecting");
    clearTimeout(this.retryTimer);
    const cap = Math.min(this.opts.maxDelayMs, this.opts.minDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    // Full jitter: devices dropped together (a deploy) do not come back together.
    const delay = now ? 0 : Math.random() * cap;
    this.retryTimer = setTimeout(() => void this.open("reconnecting"), delay);
  }

  private teardown(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.firstFrameTimer);
    clearInterval(this.pingTimer);
    this.pingSentAt = null;
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
          if (Date.now() - this.pingSentAt >= this.opts.pongTimeoutMs) this.dropSocket("pong timeout");
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

  // --- frames ------------------------------------------------------------------------------------------

  private onFrame(text: string): void {
    let frame: InboxFrame;
    try {
      frame = JSON.parse(text) as InboxFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case "snapshot":
        this.started = true;
        this.live();
        this.replace(fromSnapshot(frame));
        return;
      case "synced":
        this.started = true;
        this.live();
        this.emit("synced", { fromN: frame.fromN, toN: frame.toN });
        return;
      case "room":
      case "room.removed":
      case "notifications":
        this.onDelta(frame);
        return;
      case "pong":
        this.pingSentAt = null;
        return;
      case "auth.expiring":
        // A key's socket is not extended: it closes at its end (4001) and reconnects while the key works.
        if (this.client.usesApiKey) return;
        this.client.refresh().then(
          (s) => this.write({ type: "auth.refresh", token: s.accessToken }),
          () => undefined,
        );
        return;
      case "error":
        this.emit("error", { code: frame.code, message: frame.message });
        return;
      default:
        return;
    }
  }

  /** The socket is past its first frame: reset the backoff and start the heartbeat. */
  private live(): void {
    if (this.status === "open") return;
    clearTimeout(this.firstFrameTimer);
    this.attempt = 0;
    this.setState("open");
    this.startHeartbeat();
  }

  private onDelta(delta: InboxDelta): void {
    const held = this.kept;
    // A catch-up's deltas come before its `synced`: they apply like live ones.
    if (!held) return;
    let next: InboxState;
    try {
      next = applyDelta(held, delta);
    } catch (err) {
      if (err instanceof InboxGapError) this.dropSocket("gap");
      return;
    }
    if (next === held) return;
    const before = { total: held.totalUnread, notifications: held.notifications.unread };
    this.kept = next;
    switch (delta.type) {
      case "room":
        this.emit(held.rooms.some((r) => r.id === delta.room.id) ? "room" : "room.added", delta.room);
        break;
      case "room.removed":
        this.emit("room.removed", { roomId: delta.roomId, reason: delta.reason });
        break;
      case "notifications":
        this.emit("notifications", { unread: delta.unread, changed: delta.changed });
        break;
    }
    if (before.total !== next.totalUnread || before.notifications !== next.notifications.unread) {
      this.emit("unread", { total: next.totalUnread, notifications: next.notifications.unread });
    }
    this.emit("change", next);
    this.notify();
  }

  private replace(state: InboxState): void {
    this.kept = state;
    this.emit("snapshot", state);
    this.emit("unread", { total: state.totalUnread, notifications: state.notifications.unread });
    this.emit("change", state);
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
}
