/** The load generator's two halves: subscribers in worker threads, and an open-loop sender. */
import { Worker } from "node:worker_threads";
import WebSocket from "ws";
import { encode, type Histogram, merge, newHistogram, nowUs } from "../lib/histogram.ts";
import { ackedId, type Dialect, SIO_CONNECT, SIO_PING, SIO_PONG, sendFrame, sioSendFrame } from "./protocol.ts";
import type { SocketSpec } from "./subscribers.ts";

type Reply = Record<string, unknown>;

function ask(worker: Worker, cmd: string, until: (r: Reply) => boolean, extra: object = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMessage = (r: Reply) => {
      if (r.error) reject(new Error(String(r.error)));
      else if (until(r)) {
        worker.off("message", onMessage);
        resolve(r);
      }
    };
    worker.on("message", onMessage);
    if (cmd) worker.postMessage({ cmd, ...extra });
  });
}

export class Subscribers {
  private readonly workers: Worker[];
  readonly ready: Promise<{ connected: number; failed: number; firstError: string | null; connect: Histogram }>;

  /** `connectRate` (sockets/s in all) paces the connects open loop; otherwise 25 at a time per thread. */
  constructor(sockets: SocketSpec[], threads: number, opts: { connectRate?: number } = {}) {
    const shares = Array.from({ length: threads }, (_, i) => sockets.filter((_, k) => k % threads === i));
    const busy = shares.filter((share) => share.length > 0);
    this.workers = busy.map(
      (share) =>
        new Worker(new URL("./subscribers.ts", import.meta.url), {
          workerData: {
            sockets: share,
            connectConcurrency: 25,
            ...(opts.connectRate ? { connectRate: opts.connectRate / busy.length } : {}),
          },
        }),
    );
    this.ready = Promise.all(this.workers.map((w) => ask(w, "", (r) => Boolean(r.ready)))).then((replies) => ({
      connected: replies.reduce((n, r) => n + Number(r.connected), 0),
      failed: replies.reduce((n, r) => n + Number(r.failed ?? 0), 0),
      firstError: (replies.find((r) => r.firstError)?.firstError as string | undefined) ?? null,
      connect: merge(replies.map((r) => String(r.connectHistogram))),
    }));
  }

  /**
   * Open-loop sends from the sockets marked `sender`, `rate` per second in all (split over the threads),
   * then the acks that came back within `settleMs`.
   */
  async send(o: { rate: number; seconds: number; bodyBytes: number; prefix: string; settleMs?: number }) {
    const share = o.rate / this.workers.length;
    const runs = await Promise.all(
      this.workers.map((w, i) =>
        ask(w, "send", (r) => "sent" in r, { send: { ...o, rate: share, prefix: `${o.prefix}-${i}` } }),
      ),
    );
    await new Promise((r) => setTimeout(r, o.settleMs ?? 1500));
    const acks = await Promise.all(this.workers.map((w) => ask(w, "acks", (r) => "ackHistogram" in r)));
    return {
      sent: runs.reduce((n, r) => n + Number(r.sent), 0),
      maxLagMs: Math.max(...runs.map((r) => Number(r.maxLagMs))),
      acked: acks.reduce((n, r) => n + Number(r.acked), 0),
      ack: merge(acks.map((r) => String(r.ackHistogram))),
    };
  }

  /** Starts recording; with `prefix`, only deliveries of sends whose clientMsgId starts with it count. */
  async start(prefix?: string): Promise<void> {
    await Promise.all(this.workers.map((w) => ask(w, "start", (r) => Boolean(r.ok), prefix ? { prefix } : {})));
  }

  async stop(): Promise<{ latency: Histogram; delivered: number; frames: number; loopP99Ms: number }> {
    const replies = await Promise.all(this.workers.map((w) => ask(w, "stop", (r) => "histogram" in r)));
    return {
      latency: merge(replies.map((r) => String(r.histogram))),
      delivered: replies.reduce((n, r) => n + Number(r.delivered), 0),
      frames: replies.reduce((n, r) => n + Number(r.frames ?? 0), 0),
      loopP99Ms: Math.max(...replies.map((r) => Number(r.loopP99Ms))),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => ask(w, "close", (r) => Boolean(r.closed))));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export interface SendRun {
  sent: number;
  acked: number;
  ack: Histogram;
  /** How far behind schedule the sender fell at worst (ms): a large value means the generator could not keep up. */
  maxLagMs: number;
}

/**
 * Open loop: sends are scheduled at fixed times regardless of replies, so a slow server shows up as
 * latency instead of quietly lowering the offered load.
 */
export class Sender {
  private readonly ws: WebSocket;
  readonly opened: Promise<void>;
  private pending = new Map<string, number>();
  private ack = newHistogram();
  private acked = 0;

  private readonly frame: typeof sendFrame;

  constructor(socket: { url: string; headers: Record<string, string>; dialect?: Dialect }) {
    const sio = socket.dialect === "socketio";
    this.frame = sio ? sioSendFrame : sendFrame;
    this.ws = new WebSocket(socket.url, { headers: socket.headers, perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => (sio ? this.ws.send(SIO_CONNECT) : resolve()));
      this.ws.once("error", reject);
      if (sio) this.ws.on("message", (d) => d.toString().startsWith(SIO_CONNECT) && resolve());
    });
    this.ws.on("message", (data) => {
      const text = data.toString();
      if (sio && text === SIO_PING) return this.ws.send(SIO_PONG);
      const clientMsgId = ackedId(text);
      if (clientMsgId === null) return;
      const sentAt = this.pending.get(clientMsgId);
      if (sentAt === undefined) return;
      this.pending.delete(clientMsgId);
      this.acked++;
      this.ack.recordValue(Math.max(1, nowUs() - sentAt));
    });
  }

  async run(o: {
    rate: number;
    seconds: number;
    bodyBytes: number;
    idPrefix: string;
    settleMs?: number;
  }): Promise<SendRun> {
    this.ack = newHistogram();
    this.acked = 0;
    this.pending.clear();
    const total = Math.round(o.rate * o.seconds);
    const intervalUs = 1_000_000 / o.rate;
    const startUs = nowUs();
    let maxLagMs = 0;
    for (let i = 0; i < total; i++) {
      const due = startUs + i * intervalUs;
      const wait = (due - nowUs()) / 1000;
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      else if (i % 64 === 0) await new Promise((r) => setImmediate(r));
      const now = nowUs();
      maxLagMs = Math.max(maxLagMs, (now - due) / 1000);
      const id = `${o.idPrefix}-${i}`;
      this.pending.set(id, now);
      this.ws.send(this.frame(id, now, o.bodyBytes));
    }
    await new Promise((r) => setTimeout(r, o.settleMs ?? 1500));
    return { sent: total, acked: this.acked, ack: this.ack, maxLagMs };
  }

  close(): void {
    this.ws.terminate();
  }
}

export { encode };
