/**
 * A worker thread holding a share of the subscribers. Spreading sockets over threads keeps one event loop
 * from serialising every delivery (on 2 cores a single loop with 1,000 sockets is the bottleneck).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { encode, newHistogram, nowUs } from "../lib/histogram.ts";
import { type Dialect, deliveredStamp, SIO_CONNECT, SIO_PING, SIO_PONG } from "./protocol.ts";

interface Input {
  sockets: { url: string; headers: Record<string, string>; dialect?: Dialect }[];
  connectConcurrency: number;
}

const input = workerData as Input;
const port = parentPort;
if (!port) throw new Error("run as a worker thread");

const latency = newHistogram();
const connectTimes = newHistogram();
let delivered = 0;
let recording = false;
const open: WebSocket[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });

function connectOne(s: Input["sockets"][number]): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = nowUs();
    const ws = new WebSocket(s.url, { headers: s.headers, perMessageDeflate: false });
    const connected = () => {
      connectTimes.recordValue(Math.max(1, nowUs() - started));
      open.push(ws);
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
      if (!recording) return;
      const stamp = deliveredStamp(text);
      if (stamp === null) return;
      delivered++;
      latency.recordValue(Math.max(1, nowUs() - stamp));
    });
  });
}

async function connectAll(): Promise<void> {
  const queue = [...input.sockets];
  const workers = Array.from({ length: input.connectConcurrency }, async () => {
    for (let s = queue.shift(); s; s = queue.shift()) await connectOne(s);
  });
  await Promise.all(workers);
}

port.on("message", async (msg: { cmd: string }) => {
  if (msg.cmd === "start") {
    latency.reset();
    delivered = 0;
    loop.reset();
    loop.enable();
    recording = true;
    port.postMessage({ ok: true });
  } else if (msg.cmd === "stop") {
    recording = false;
    loop.disable();
    port.postMessage({
      histogram: encode(latency),
      delivered,
      loopP99Ms: loop.percentile(99) / 1e6,
    });
  } else if (msg.cmd === "close") {
    for (const ws of open) ws.terminate();
    port.postMessage({ closed: true });
  }
});

connectAll().then(
  () => port.postMessage({ ready: true, connected: open.length, connectHistogram: encode(connectTimes) }),
  (err: Error) => port.postMessage({ error: err.message }),
);
