/**
 * A worker thread holding a share of the sockets. Spreading sockets over threads keeps one event loop
 * from serialising every delivery (on 2 cores a single loop with 1,000 sockets is the bottleneck).
 * Sockets marked `sender` also send on command (the many-rooms scenario: one sender per room), open loop.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { encode, newHistogram, nowUs } from "../lib/histogram.ts";
import {
  ackedId,
  type Dialect,
  deliveredStamps,
  SIO_CONNECT,
  SIO_PING,
  SIO_PONG,
  sendFrame,
  sioSendFrame,
} from "./protocol.ts";

export interface SocketSpec {
  url: string;
  headers: Record<string, string>;
  dialect?: Dialect;
  sender?: boolean;
}

interface Input {
  sockets: SocketSpec[];
  connectConcurrency: number;
  /** Paced connects (sockets/s for this thread), open loop: a connect storm at a fixed arrival rate. */
  connectRate?: number;
}

const input = workerData as Input;
const port = parentPort;
if (!port) throw new Error("run as a worker thread");

const latency = newHistogram();
const connectTimes = newHistogram();
const ackTimes = newHistogram();
const pendingAcks = new Map<string, number>();
let delivered = 0;
/** WebSocket frames received while recording (a batch of several messages is one). */
let frames = 0;
let acked = 0;
let failed = 0;
let firstError: string | null = null;
const failure = (err: Error) => {
  failed++;
  firstError ??= String(err?.message ?? err);
};
let recording = false;
/** Only sends whose clientMsgId starts with this count (the measured run's, not a warm-up's stragglers). */
let prefix: string | undefined;
const open: WebSocket[] = [];
const senders: { ws: WebSocket; dialect?: Dialect }[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });

function connectOne(s: SocketSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = nowUs();
    const ws = new WebSocket(s.url, { headers: s.headers, perMessageDeflate: false });
    const connected = () => {
      connectTimes.recordValue(Math.max(1, nowUs() - started));
      open.push(ws);
      if (s.sender) senders.push({ ws, ...(s.dialect ? { dialect: s.dialect } : {}) });
      resolve();
    };
    ws.on("open", () => (s.dialect === "socketio" ? ws.send(SIO_CONNECT) : connected()));
    ws.on("error", reject);
    ws.on("message", (data) => {
      const text = data.toString();
      if (s.dialect === "socketio") {
        if (text === SIO_PING) return ws.send(SIO_PONG);
        if (text.startsWith(SIO_CONNECT)) return connected();
      }
      if (s.sender && pendingAcks.size > 0) {
        const id = ackedId(text);
        const sentAt = id === null ? undefined : pendingAcks.get(id);
        if (id !== null && sentAt !== undefined) {
          pendingAcks.delete(id);
          acked++;
          ackTimes.recordValue(Math.max(1, nowUs() - sentAt));
          return;
        }
      }
      if (!recording) return;
      frames++;
      const stamps = deliveredStamps(text, prefix);
      if (stamps.length === 0) return;
      const now = nowUs();
      for (const stamp of stamps) {
        delivered++;
        latency.recordValue(Math.max(1, now - stamp));
      }
    });
  });
}

async function connectAll(): Promise<void> {
  const queue = [...input.sockets];
  if (input.connectRate) {
    // Open loop: each connect starts on schedule whether or not earlier ones have finished.
    const intervalUs = 1_000_000 / input.connectRate;
    const startUs = nowUs();
    const attempts: Promise<void>[] = [];
    for (let i = 0; i < queue.length; i++) {
      const wait = (startUs + i * intervalUs - nowUs()) / 1000;
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      attempts.push(connectOne(queue[i] as SocketSpec).catch(failure));
    }
    await Promise.all(attempts);
    return;
  }
  const workers = Array.from({ length: input.connectConcurrency }, async () => {
    for (let s = queue.shift(); s; s = queue.shift()) await connectOne(s).catch(failure);
  });
  await Promise.all(workers);
}

/** Open-loop sends spread round robin over this thread's sender sockets. */
async function sendAll(o: { rate: number; seconds: number; bodyBytes: number; prefix: string }) {
  ackTimes.reset();
  acked = 0;
  pendingAcks.clear();
  const total = senders.length ? Math.round(o.rate * o.seconds) : 0;
  const intervalUs = 1_000_000 / o.rate;
  const startUs = nowUs();
  let maxLagMs = 0;
  for (let i = 0; i < total; i++) {
    const due = startUs + i * intervalUs;
    const wait = (due - nowUs()) / 1000;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const now = nowUs();
    maxLagMs = Math.max(maxLagMs, (now - due) / 1000);
    const { ws, dialect } = senders[i % senders.length] as (typeof senders)[number];
    const id = `${o.prefix}-${i}`;
    pendingAcks.set(id, now);
    ws.send(dialect === "socketio" ? sioSendFrame(id, now, o.bodyBytes) : sendFrame(id, now, o.bodyBytes));
  }
  return { sent: total, maxLagMs };
}

port.on("message", async (msg: { cmd: string; send?: Parameters<typeof sendAll>[0]; prefix?: string }) => {
  if (msg.cmd === "start") {
    prefix = msg.prefix;
    latency.reset();
    delivered = 0;
    frames = 0;
    loop.reset();
    loop.enable();
    recording = true;
    port.postMessage({ ok: true });
  } else if (msg.cmd === "send" && msg.send) {
    const run = await sendAll(msg.send);
    port.postMessage({ sent: run.sent, maxLagMs: run.maxLagMs });
  } else if (msg.cmd === "acks") {
    port.postMessage({ acked, ackHistogram: encode(ackTimes) });
  } else if (msg.cmd === "stop") {
    recording = false;
    loop.disable();
    port.postMessage({
      histogram: encode(latency),
      delivered,
      frames,
      loopP99Ms: loop.percentile(99) / 1e6,
    });
  } else if (msg.cmd === "close") {
    for (const ws of open) ws.terminate();
    port.postMessage({ closed: true });
  }
});

connectAll().then(
  () =>
    port.postMessage({
      ready: true,
      connected: open.length,
      failed,
      firstError,
      connectHistogram: encode(connectTimes),
    }),
  (err: Error) => port.postMessage({ error: err.message }),
);
