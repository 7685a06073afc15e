/**
 * Chat clients built on the project's SDK (src/client) over the `ws` package: each is a user in every
 * chaos room, keeps one RoomConnection per room that reconnects, resumes and resends by itself, and
 * records what it sent, what was acked (with which seq) and every message it was shown, in order.
 */
import WebSocket from "ws";
import type { EdgechatClient as Client, RoomConnection, SocketLike } from "../../src/client/index.ts";
import { sleep } from "./procs.ts";

type Sdk = typeof import("../../src/client/index.ts");

export interface SentRecord {
  id: string;
  room: number;
  client: number;
  firstAt: number;
  attempts: number;
  /** Every seq an ack named for this clientMsgId: more than one is a duplicate. */
  ackSeqs: Set<number>;
  ackedAt?: number;
}

export interface Seen {
  seq: number;
  clientMsgId: string;
}

export interface ClientFigures {
  reconnects: number;
  replaced: number;
  /** Connections the watchdog replaced: not open for 45 s, or open with sends unacked for 45 s. */
  stuck: number;
  errors: Map<string, number>;
  throttled: number;
}

const wsFactory = (url: string) => {
  // Without a handshake timeout a socket to a worker that accepted TCP but never answers stays
  // "connecting" for ever, and the SDK has no timer of its own there.
  const ws = new WebSocket(url, { handshakeTimeout: 10_000 });
  // ws throws an 'error' nobody listens to; the SDK learns of the failure from 'close'.
  ws.on("error", () => {});
  return ws as unknown as SocketLike;
};

const fetchWithTimeout: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });

/** An SDK client whose every request and upgrade gives up in 10 s (a paused Redis must not hang it). */
export function makeApi(sdk: Sdk, baseUrl: string): Client {
  return new sdk.EdgechatClient({ baseUrl, webSocket: wsFactory, fetch: fetchWithTimeout });
}

export class ChaosClient {
  readonly views: Seen[][];
  readonly figures: ClientFigures = { reconnects: 0, replaced: 0, stuck: 0, errors: new Map(), throttled: 0 };
  private readonly conns: RoomConnection[] = [];
  private closing = false;
  readonly index: number;
  readonly api: Client;
  readonly rooms: string[];

  constructor(index: number, api: Client, rooms: string[]) {
    this.index = index;
    this.api = api;
    this.rooms = rooms;
    this.views = rooms.map(() => []);
    for (let r = 0; r < rooms.length; r++) this.connect(r, 0);
    this.watchdog = setInterval(() => this.watch(), 2000);
  }

  private readonly watchdog: ReturnType<typeof setInterval>;
  /** Per room: since when the connection is not open, and since when its oldest pending send waits. */
  private readonly notOpenSince: (number | null)[] = [];
  private readonly ackWaitSince: (number | null)[] = [];
  private readonly ackedAtLastLook: number[] = [];

  /**
   * The SDK has no timer between the upgrade and the welcome, so a socket the runtime dropped without a
   * close (seen after workerd restarts) can leave a connection "reconnecting" or "open" and silent for
   * ever. An app would reopen it; so does this, and the run counts it.
   */
  private watch(): void {
    const now = Date.now();
    for (const [r, conn] of this.conns.entries()) {
      const open = conn.state === "open";
      this.notOpenSince[r] = open ? null : (this.notOpenSince[r] ?? now);
      const acked = this.ackCount[r] ?? 0;
      const progressed = acked !== this.ackedAtLastLook[r];
      this.ackedAtLastLook[r] = acked;
      this.ackWaitSince[r] = conn.pending === 0 || progressed ? null : (this.ackWaitSince[r] ?? now);
      const notOpenFor = now - (this.notOpenSince[r] ?? now);
      const waitFor = now - (this.ackWaitSince[r] ?? now);
      if (notOpenFor > 45_000 || waitFor > 45_000) {
        this.figures.stuck++;
        this.notOpenSince[r] = null;
        this.ackWaitSince[r] = null;
        this.replace(r);
      }
    }
  }

  private readonly ackCount: number[] = [];

  states(): string[] {
    return this.conns.map((c) => c.state);
  }

  private connect(r: number, afterSeq: number): void {
    const conn = this.api.room(this.rooms[r] as string, {
      afterSeq,
      minDelayMs: 100,
      maxDelayMs: 5000,
      pingIntervalMs: 1000,
      pongTimeoutMs: 4000,
    });
    this.conns[r] = conn;
    conn.on("message", (m) => {
      if (this.conns[r] === conn) this.views[r]?.push({ seq: m.seq, clientMsgId: m.clientMsgId });
    });
    conn.on("state", (s) => {
      if (this.conns[r] !== conn) return;
      if (s === "reconnecting") this.figures.reconnects++;
      // Closed for good by the SDK (e.g. a refused ticket while the stack restarts): open a new one
      // after the last message shown, as an app would.
      if (s === "closed" && !this.closing) this.replace(r);
    });
    conn.on("throttled", () => this.figures.throttled++);
    conn.on("error", (e) => {
      const key = `${e.code}${"ref" in e && e.ref === "resume" ? " (resume)" : ""}`;
      this.figures.errors.set(key, (this.figures.errors.get(key) ?? 0) + 1);
      // The SDK does not ask again after a failed resume, and drops live frames past the gap until its
      // next reconnect (reported as a finding); reconnecting here keeps the run measuring the server.
      if ("ref" in e && e.ref === "resume" && e.code === "unavailable") setTimeout(() => this.replace(r), 500);
    });
    conn.connect();
  }

  private replace(r: number): void {
    if (this.closing) return;
    const old = this.conns[r];
    this.figures.replaced++;
    const last = this.views[r]?.at(-1)?.seq ?? 0;
    this.connect(r, last);
    old?.close();
  }

  get pending(): number {
    let n = 0;
    for (const c of this.conns) n += c.pending;
    return n;
  }

  /** One send attempt; a rejected one goes again (same clientMsgId) until the run gives up. */
  send(rec: SentRecord, keepTrying: () => boolean): void {
    rec.attempts++;
    const conn = this.conns[rec.room] as RoomConnection;
    conn.send(`chaos ${rec.id}`, { clientMsgId: rec.id }).then(
      (ack) => {
        this.ackCount[rec.room] = (this.ackCount[rec.room] ?? 0) + 1;
        rec.ackSeqs.add(ack.seq);
        rec.ackedAt ??= Date.now();
      },
      async () => {
        await sleep(1000);
        if (keepTrying() && rec.ackSeqs.size === 0) this.send(rec, keepTrying);
      },
    );
  }

  lastSeen(r: number): number {
    return this.views[r]?.at(-1)?.seq ?? 0;
  }

  close(): void {
    this.closing = true;
    clearInterval(this.watchdog);
    for (const c of this.conns) c.close();
    this.api.close();
  }
}
