/**
 * RoomConnection: one room's live stream with the guarantees made easy. It connects with a ticket,
 * reconnects by itself (exponential backoff with full jitter, capped; at once when a browser comes back
 * online or to the foreground, and it drops the socket as soon as the browser reports going offline), resumes after the last seq it delivered so nothing is missed or shown
 * twice, keeps unacked sends and resends them with the same clientMsgId (the room acks a resend with the
 * original seq and stores nothing twice), answers auth.expiring with a refreshed token, and notices a
 * dead network by a missed pong.
 */
import { clientFrame, type MessageView, PING_FRAME, type SendMessage, type ServerFrame } from "../protocol/frames";
import type { EdgechatClient } from "./client";
import { Emitter } from "./emitter";
import { EdgechatError } from "./errors";
import { OPEN, type SocketLike } from "./transport";

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

type Frame<T extends ServerFrame["type"]> = Omit<Extract<ServerFrame, { type: T }>, "type">;

export interface RoomEvents extends Record<string, unknown> {
  state: ConnectionState;
  welcome: Frame<"welcome">;
  message: MessageView;
  edited: Frame<"edited">;
  deleted: Frame<"deleted">;
  reaction: Frame<"reaction">;
  pinned: Frame<"pinned">;
  typing: Frame<"typing">;
  presence: Frame<"presence">;
  receipt: Frame<"receipt">;
  throttled: Frame<"throttled">;
  error: Frame<"error"> | { code: "closed"; message: string };
}

export interface RoomConnectionOptions {
  /** Deliver messages after this seq on the first connect (default: only new ones). */
  afterSeq?: number;
  /** Backoff: first delay and cap, ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How often to ping, and how long to wait for the pong before calling the network dead. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
}

interface Pending {
  frame: SendMessage & { type: "send" };
  resolve: (r: { seq: number; duplicate: boolean }) => void;
  reject: (e: Error) => void;
}

/** How long an opened socket may go without its welcome frame before the connection tries again. */
const WELCOME_TIMEOUT_MS = 10_000;
/** How soon a resume the room could not serve is asked again. */
const RESUME_RETRY_MS = 1000;

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSES = new Set([4003, 4004]);

export class RoomConnection extends Emitter<RoomEvents> {
  readonly roomId: string;
  private readonly client: EdgechatClient;
  private readonly opts: Required<Omit<RoomConnectionOptions, "afterSeq">>;
  private socket: SocketLike | null = null;
  private status: ConnectionState = "idle";
  /** Highest seq delivered to listeners, in order; null until the first welcome. */
  private delivered: number | null;
  /**
   * Unacked sends in the order the app made them. One is on the wire at a time: with several in flight,
   * a throttled send could be overtaken by the next one once the window opened, storing "5" before "4".
   */
  private readonly outbox = new Map<string, Pending>();
  /** The clientMsgId on the wire (sent, not yet answered), or null. */
  private inFlight: string | null = null;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** A resume the room could not serve (history unavailable) is asked again after this timer. */
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  /** A socket that opened but was never welcomed is given up after WELCOME_TIMEOUT_MS. */
  private welcomeTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  /** When the unanswered ping went out; null when none is outstanding. */
  private pingSentAt: number | null = null;
  private resuming = false;
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
    this.delivered = opts.afterSeq ?? null;
    this.opts = {
      minDelayMs: opts.minDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 30_000,
      pingIntervalMs: opts.pingIntervalMs ?? 25_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 10_000,
    };
  }

  get state(): ConnectionState {
    return this.status;
  }

  /** The last seq delivered in order (resume point). */
  get lastSeq(): number | null {
    return this.delivered;
  }

  /** Sends not yet acknowledged (kept across reconnects). */
  get pending(): number {
    return this.outbox.size;
  }

  connect(): this {
    if (this.status !== "idle" && this.status !== "closed") return this;
    const g = globalThis as { addEventListener?: (t: string, f: () => void) => void };
    g.addEventListener?.("online", this.wake);
    g.addEventListener?.("visibilitychange", this.wake);
    g.addEventListener?.("offline", this.offline);
    this.open("connecting");
    return this;
  }

  /** Closes for good; unacked sends are rejected. */
  close(): void {
    this.setState("closed");
    this.teardown();
    this.socket?.close(1000, "client closed");
    this.socket = null;
    const g = globalThis as { removeEventListener?: (t: string, f: () => void) => void };
    g.removeEventListener?.("online", this.wake);
    g.removeEventListener?.("visibilitychange", this.wake);
    g.removeEventListener?.("offline", this.offline);
    for (const p of this.outbox.values()) p.reject(new EdgechatError(0, "network", "connection closed"));
    this.outbox.clear();
  }

  /**
   * Sends a message; resolves with its seq once the room has stored it. Offline, it waits in the outbox
   * and goes out (with the same clientMsgId) as soon as the connection is back.
   */
  send(
    body: string,
    extra: { replyTo?: number; attachments?: string[]; clientMsgId?: string } = {},
  ): Promise<{ seq: number; duplicate: boolean; clientMsgId: string }> {
    const frame = clientFrame.parse({
      type: "send",
      clientMsgId: extra.clientMsgId ?? crypto.randomUUID(),
      body,
      ...(extra.replyTo !== undefined ? { replyTo: extra.replyTo } : {}),
      ...(extra.attachments ? { attachments: extra.attachments } : {}),
    }) as Pending["frame"];
    return new Promise((resolve, reject) => {
      if (this.status === "closed") {
        reject(new EdgechatError(0, "network", "connection closed"));
        return;
      }
      this.outbox.set(frame.clientMsgId, {
        frame,
        resolve: (r) => resolve({ ...r, clientMsgId: frame.clientMsgId }),
        reject,
      });
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

  // --- connection lifecycle ----------------------------------------------------------------------

  private setState(next: ConnectionState): void {
    if (this.status === next) return;
    this.status = next;
    this.emit("state", next);
  }

  private async open(state: "connecting" | "reconnecting"): Promise<void> {
    this.setState(state);
    let socket: SocketLike;
    try {
      const { ticket } = await this.client.wsTicket(this.roomId);
      if (this.status === "closed") return;
      const url = this.client.url(`/api/rooms/${this.roomId}/ws`, { ticket }).replace(/^http/, "ws");
      socket = this.client.socketFactory(url);
    } catch (err) {
      // No access at all (removed from the room, account gone): retrying cannot help.
      if (err instanceof EdgechatError && (err.status === 404 || err.status === 401 || err.status === 403)) {
        this.emit("error", { code: "closed", message: err.message });
        this.close();
        return;
      }
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
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
      this.close();
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
    clearTimeout(this.resumeTimer);
    clearTimeout(this.welcomeTimer);
    clearInterval(this.pingTimer);
    this.pingSentAt = null;
    this.resuming = false;
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

  // --- frames -----------------------------------------------------------------------------------

  private onFrame(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case "pong":
        this.pingSentAt = null;
        return;
      case "welcome":
        this.onWelcome(frame);
        return;
      case "message":
        this.onMessage(frame);
        return;
      case "resumed":
        this.resuming = false;
        if (frame.more) this.resume();
        return;
      case "ack": {
        const p = this.outbox.get(frame.clientMsgId);
        this.outbox.delete(frame.clientMsgId);
        p?.resolve({ seq: frame.seq, duplicate: frame.duplicate === true });
        this.answered(frame.clientMsgId);
        return;
      }
      case "throttled": {
        this.emit("throttled", { retryAfterMs: frame.retryAfterMs, clientMsgId: frame.clientMsgId });
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
        if (p) {
          this.outbox.delete(frame.ref as string);
          p.reject(new EdgechatError(0, frame.code, frame.message));
          this.answered(frame.ref as string);
        }
        if (frame.code === "resync_required") this.resyncFromWelcome();
        else if (frame.ref === "resume") {
          // The room could not read its history (Postgres away): it is not replaying, so neither are we.
          // Ask again shortly; live frames meanwhile are gaps, which the next resume fills.
          this.resuming = false;
          clearTimeout(this.resumeTimer);
          this.resumeTimer = setTimeout(() => this.resume(), RESUME_RETRY_MS);
        }
        this.emit("error", { code: frame.code, message: frame.message, ref: frame.ref });
        return;
      }
      case "auth.expiring":
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
    if (this.delivered === null) this.delivered = frame.lastSeq;
    else if (frame.lastSeq > this.delivered) this.resume();
    // Whatever was on the wire may not have arrived: the head goes again (the room dedupes it).
    clearTimeout(this.holdTimer);
    this.inFlight = null;
    this.pump();
  }

  /** Puts the oldest unacked send on the wire, unless one is already there or the socket is not open. */
  private pump(): void {
    if (this.inFlight !== null || this.status !== "open" || this.socket?.readyState !== OPEN) return;
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

  private onMessage(m: MessageView): void {
    const { type: _type, ...message } = m as MessageView & { type?: string };
    if (this.delivered === null || message.seq <= this.delivered) return; // seen already
    if (message.seq > this.delivered + 1) {
      // A gap (frames raced a reconnect): the room replays from our last seq, in order.
      this.resume();
      return;
    }
    this.delivered = message.seq;
    this.emit("message", message);
  }

  private resume(): void {
    if (this.resuming || this.delivered === null) return;
    this.resuming = true;
    this.write({ type: "resume", lastSeq: this.delivered });
  }

  /**
   * The room can no longer replay what we asked for: reconnect and carry on from its current end. The
   * `error` event (resync_required) tells the app to reload history over REST.
   */
  private resyncFromWelcome(): void {
    this.delivered = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(4000, "resync");
    this.onClose(1000, "resync");
  }
}
