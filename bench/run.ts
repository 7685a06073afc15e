/**
 * `npm run bench` (`-- --quick` for a smoke run): edgechat under `wrangler dev` with the real local stack,
 * against the floor (a bare `ws` broadcast server) in the same run, with the same load generator.
 * Prints a table and writes bench/results/latest.{json,md}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderCharts } from "./lib/chart.ts";
import { type LatencySummary, summarize } from "./lib/histogram.ts";
import { breakdown, cpuMeter, snapshot, usage } from "./lib/proc.ts";
import { Sender, Subscribers } from "./load/clients.ts";
import type { Dialect } from "./load/protocol.ts";
import {
  countPeerRows,
  countRows,
  type EdgechatSystem,
  pinLoadGenerator,
  type RunningSystem,
  seedRoom,
  startEdgechat,
  startFloor,
  startSocketIo,
} from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(ROOT, "bench", "results");
const quick = process.argv.includes("--quick");
const plan = quick
  ? {
      subscribers: 100,
      rate: 10,
      seconds: 3,
      ackRate: 20,
      ackSeconds: 3,
      ramp: [100, 300],
      rampSeconds: 2,
      idle: 100,
      threads: 2,
    }
  : {
      subscribers: 1000,
      rate: 10,
      seconds: 10,
      ackRate: 20,
      ackSeconds: 10,
      ramp: [100, 250, 500, 750, 1000],
      rampSeconds: 5,
      idle: 1000,
      threads: 2,
    };
const BODY_BYTES = 200;
const SUSTAINED_P99_MS = 50;

interface FanoutResult {
  system: string;
  subscribers: number;
  rate: number;
  delivery: LatencySummary;
  deliveredRatio: number;
  serverCpuUsPerDelivery: number;
  serverRssMb: number;
  /** Server CPU per delivery split by process (µs). */
  cpuBreakdownUs: Record<string, number>;
  loadGenCpuPct: number;
  loadGenLoopP99Ms: number;
  senderMaxLagMs: number;
  loadGenBottleneck: boolean;
}

const log = (line: string) => console.log(`[bench] ${line}`);

type Socket = { url: string; headers: Record<string, string>; dialect?: Dialect };

async function fanout(sys: RunningSystem, sockets: Socket[], sender: Socket): Promise<FanoutResult> {
  const subs = new Subscribers(sockets, plan.threads);
  const { connected } = await subs.ready;
  const send = new Sender(sender);
  await send.opened;
  // Warm up: let JIT and connections settle before measuring.
  await send.run({ rate: plan.rate, seconds: 1, bodyBytes: BODY_BYTES, idPrefix: `warm-${Date.now()}`, settleMs: 500 });
  const server = cpuMeter(() => sys.pids());
  const ownCpu = process.cpuUsage();
  const wallStart = performance.now();
  const perProcess = snapshot(sys.pids());
  server.start();
  await subs.start();
  const run = await send.run({
    rate: plan.rate,
    seconds: plan.seconds,
    bodyBytes: BODY_BYTES,
    idPrefix: `fan-${Date.now()}`,
  });
  const got = await subs.stop();
  const serverCpuMs = server.stop();
  const split = breakdown(perProcess, sys.pids());
  const wallMs = performance.now() - wallStart;
  const own = process.cpuUsage(ownCpu);
  const loadGenCpuPct = Math.round(((own.user + own.system) / 1000 / wallMs) * 100);
  const rss = usage(sys.pids()).rssBytes;
  send.close();
  await subs.close();
  const expected = run.sent * connected;
  return {
    system: sys.name,
    subscribers: connected,
    rate: plan.rate,
    delivery: summarize(got.latency),
    deliveredRatio: expected ? Math.round((got.delivered / expected) * 10_000) / 10_000 : 0,
    serverCpuUsPerDelivery: got.delivered ? Math.round((serverCpuMs * 1000) / got.delivered) : 0,
    serverRssMb: Math.round(rss / 1e6),
    cpuBreakdownUs: Object.fromEntries(
      Object.entries(split)
        .filter(([, ms]) => ms > 0)
        .map(([name, ms]) => [name, got.delivered ? Math.round((ms * 1000) / got.delivered) : 0]),
    ),
    loadGenCpuPct,
    loadGenLoopP99Ms: Math.round(got.loopP99Ms * 10) / 10,
    senderMaxLagMs: Math.round(run.maxLagMs * 10) / 10,
    // A generator whose event loops stall or fall behind schedule measures itself, not the server.
    loadGenBottleneck: got.loopP99Ms > 20 || run.maxLagMs > 20 || loadGenCpuPct > 85 * plan.threads,
  };
}

async function ackLatency(sys: EdgechatSystem) {
  const seeded = await seedRoom(sys, 0);
  const send = new Sender(seeded.sender);
  await send.opened;
  await send.run({ rate: plan.ackRate, seconds: 1, bodyBytes: BODY_BYTES, idPrefix: "warm", settleMs: 300 });
  const run = await send.run({ rate: plan.ackRate, seconds: plan.ackSeconds, bodyBytes: BODY_BYTES, idPrefix: "ack" });
  send.close();
  return { rate: plan.ackRate, ack: summarize(run.ack), acked: run.acked, sent: run.sent };
}

/** Raises the offered rate into one room until acks fall behind or p99 passes 50 ms; persistence stays on. */
async function writePath(sys: EdgechatSystem) {
  const seeded = await seedRoom(sys, 0);
  return writeRamp(sys, seeded.sender, () => countRows(sys, seeded.room));
}

type WriteResult = Awaited<ReturnType<typeof writeRamp>>;

/**
 * The same ramp for any system: open-loop sends at rising rates into one room, then a zero-loss check
 * against the system's store (`rows` counts what it persisted).
 */
async function writeRamp(sys: RunningSystem, socket: Socket, rows: () => Promise<number>) {
  const system = sys.name;
  const send = new Sender(socket);
  await send.opened;
  const steps: {
    rate: number;
    ack: LatencySummary;
    acked: number;
    sent: number;
    senderMaxLagMs: number;
    sustained: boolean;
    /** Server CPU per message by process (µs) during this step: where the write path's time goes. */
    cpuUsPerMessage: Record<string, number>;
  }[] = [];
  let totalAcked = 0;
  let totalSent = 0;
  const base = await rows();
  for (const rate of plan.ramp) {
    const before = snapshot(sys.pids());
    const run = await send.run({ rate, seconds: plan.rampSeconds, bodyBytes: BODY_BYTES, idPrefix: `w${rate}` });
    const cpu = breakdown(before, sys.pids());
    const cpuUsPerMessage = Object.fromEntries(
      Object.entries(cpu)
        .filter(([, ms]) => ms > 0)
        .map(([name, ms]) => [name, Math.round((ms * 1000) / Math.max(1, run.sent))]),
    );
    totalAcked += run.acked;
    totalSent += run.sent;
    const ack = summarize(run.ack);
    const sustained = run.acked === run.sent && ack.p99 <= SUSTAINED_P99_MS;
    steps.push({
      rate,
      ack,
      acked: run.acked,
      sent: run.sent,
      senderMaxLagMs: Math.round(run.maxLagMs),
      sustained,
      cpuUsPerMessage,
    });
    log(`${system} write path ${rate}/s: ack p99 ${ack.p99} ms, acked ${run.acked}/${run.sent}`);
    if (!sustained) break;
  }
  send.close();
  // Zero loss: every message sent (acked in the window or after it) reaches the store once it drains.
  let stored = 0;
  for (let i = 0; i < 120 && stored < totalSent; i++) {
    stored = (await rows()) - base;
    if (stored < totalSent) await new Promise((r) => setTimeout(r, 500));
  }
  const best = steps.filter((s) => s.sustained).at(-1)?.rate ?? 0;
  return { system, steps, sustainedRate: best, acked: totalAcked, sent: totalSent, postgresRows: stored };
}

/**
 * Memory of the socket-holding runtime per idle socket: the slope between two populations (half, then all
 * of the sockets), each measured after the room had time to hibernate, so fixed costs cancel out.
 */
async function idleMemory(sys: RunningSystem, sockets: { url: string; headers: Record<string, string> }[]) {
  const settle = () => new Promise((r) => setTimeout(r, quick ? 3000 : 15_000));
  const half = Math.floor(sockets.length / 2);
  const first = new Subscribers(sockets.slice(0, half), plan.threads);
  await first.ready;
  await settle();
  const r1 = usage(sys.runtimePids()).rssBytes;
  const second = new Subscribers(sockets.slice(half), plan.threads);
  const { connected, connect } = await second.ready;
  await settle();
  const r2 = usage(sys.runtimePids()).rssBytes;
  await first.close();
  await second.close();
  return {
    sockets: sockets.length,
    connect: summarize(connect),
    bytesPerSocket: Math.round((r2 - r1) / Math.max(1, connected)),
  };
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
  const pinnedCores = pinLoadGenerator();
  log(
    `${quick ? "quick" : "full"} run on ${machine.cpus} × ${machine.cpuModel}${pinnedCores ? "; servers on core 0, load generator on core 1" : ""}`,
  );

  const floor = await startFloor();
  const floorSocket = { url: `ws://127.0.0.1:${floor.port}/`, headers: {} };
  log("floor: fan-out");
  const floorFanout = await fanout(
    floor,
    Array.from({ length: plan.subscribers }, () => floorSocket),
    floorSocket,
  );
  log("floor: idle memory");
  const floorIdle = await idleMemory(
    floor,
    Array.from({ length: plan.idle }, () => floorSocket),
  );
  await floor.stop();

  log("socket.io: fan-out");
  const sio = await startSocketIo();
  const sioFanout = await fanout(
    sio,
    Array.from({ length: plan.subscribers }, () => sio.socket),
    sio.socket,
  );
  await sio.stop();

  log("edgechat: starting npm run dev stack (log: bench/results/edgechat-dev.log)");
  const edge = await startEdgechat(path.join(RESULTS, "edgechat-dev.log"));
  try {
    const seeded = await seedRoom(edge, plan.subscribers);
    log("edgechat: fan-out (through wrangler dev's proxy, as clients connect locally)");
    const edgeFanout = await fanout(edge, seeded.subscribers, seeded.sender);
    log("edgechat: fan-out (straight to the worker runtime, as in production)");
    const direct = await seedRoom(edge, plan.subscribers, edge.directPort);
    const edgeDirect = {
      ...(await fanout(edge, direct.subscribers, direct.sender)),
      system: "edgechat (runtime only)",
    };
    log("edgechat: send→ack");
    const ack = await ackLatency(edge);
    log("edgechat: write path");
    const write = await writePath(edge);
    log("socket.io + postgres (row by row): write path");
    const peerDb = await startSocketIo(edge.databaseUrl);
    let peerWrite: WriteResult;
    try {
      peerWrite = await writeRamp(peerDb, peerDb.socket, () => countPeerRows(edge.databaseUrl, "w"));
    } finally {
      await peerDb.stop();
    }
    log("edgechat: idle memory (hibernated)");
    const idleRoom = await seedRoom(edge, plan.idle);
    const edgeIdle = await idleMemory(edge, idleRoom.subscribers);

    const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
    const result = {
      at: new Date().toISOString(),
      mode: quick ? "quick" : "full",
      machine,
      pinnedCores,
      fanout: { edgechat: edgeFanout, direct: edgeDirect, floor: floorFanout, peer: sioFanout },
      ratios: {
        peerFanoutP99: ratio(edgeDirect.delivery.p99, sioFanout.delivery.p99),
        peerCpuPerDelivery: ratio(edgeDirect.serverCpuUsPerDelivery, sioFanout.serverCpuUsPerDelivery),
        writeVsPeer: ratio(write.sustainedRate, peerWrite.sustainedRate),
        fanoutP99: ratio(edgeFanout.delivery.p99, floorFanout.delivery.p99),
        cpuPerDelivery: ratio(edgeFanout.serverCpuUsPerDelivery, floorFanout.serverCpuUsPerDelivery),
        directFanoutP99: ratio(edgeDirect.delivery.p99, floorFanout.delivery.p99),
        directCpuPerDelivery: ratio(edgeDirect.serverCpuUsPerDelivery, floorFanout.serverCpuUsPerDelivery),
      },
      ack,
      write,
      peerWrite,
      idle: { edgechat: edgeIdle, floor: floorIdle },
    };
    renderCharts(result, RESULTS, quick ? "quick" : "latest");
    writeFileSync(path.join(RESULTS, quick ? "quick.json" : "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
    const md = report(result);
    writeFileSync(path.join(RESULTS, quick ? "quick.md" : "latest.md"), md);
    console.log(`\n${md}`);
    const lost =
      edgeFanout.deliveredRatio < 1 ||
      edgeDirect.deliveredRatio < 1 ||
      write.postgresRows < write.sent ||
      peerWrite.postgresRows < peerWrite.sent ||
      ack.acked < ack.sent;
    if (lost) {
      console.error("[bench] LOSS: delivered/expected below 1.0 or sent messages missing from Postgres");
      process.exitCode = 1;
    }
  } finally {
    await edge.stop();
  }
}

function report(r: {
  machine: { cpus: number; cpuModel: string; memGb: number; node: string };
  mode: string;
  at: string;
  pinnedCores: boolean;
  fanout: { edgechat: FanoutResult; direct: FanoutResult; floor: FanoutResult; peer: FanoutResult };
  ratios: {
    peerFanoutP99: number | null;
    peerCpuPerDelivery: number | null;
    writeVsPeer: number | null;
    fanoutP99: number | null;
    cpuPerDelivery: number | null;
    directFanoutP99: number | null;
    directCpuPerDelivery: number | null;
  };
  ack: { rate: number; ack: LatencySummary; acked: number; sent: number };
  write: WriteResult;
  peerWrite: WriteResult;
  idle: { edgechat: { sockets: number; bytesPerSocket: number }; floor: { sockets: number; bytesPerSocket: number } };
}): string {
  const f = r.fanout;
  const row = (x: FanoutResult) =>
    `| ${x.system} | ${x.delivery.p50} | ${x.delivery.p99} | ${x.delivery.max} | ${x.deliveredRatio} | ${x.serverCpuUsPerDelivery} | ${x.loadGenCpuPct}% / loop p99 ${x.loadGenLoopP99Ms} ms${x.loadGenBottleneck ? " **(generator-bound)**" : ""} |`;
  return [
    `### edgechat vs the floor and Socket.IO (${r.mode} run, ${r.at})`,
    "",
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGb} GiB, load generator on Node ${r.machine.node} with worker threads. ${r.pinnedCores ? "Servers pinned to core 0, the load generator to core 1 (taskset); Postgres and Redis are shared system services." : "Server and generator share the cores (no taskset)."}`,
    "",
    `Fan-out: one room, ${f.edgechat.subscribers} subscribers, ${f.edgechat.rate} messages/s, ${BODY_BYTES}-byte bodies.`,
    "",
    "| system | delivery p50 ms | p99 ms | max ms | delivered/expected | server CPU µs/delivery | load generator CPU |",
    "|---|---|---|---|---|---|---|",
    row(f.edgechat),
    row(f.direct),
    row(f.peer),
    row(f.floor),
    "",
    `Edgechat (runtime only) / Socket.IO: fan-out p99 **${r.ratios.peerFanoutP99}×**, server CPU per delivery **${r.ratios.peerCpuPerDelivery}×**.`,
    "",
    `Ratios edgechat/floor through wrangler dev: fan-out p99 **${r.ratios.fanoutP99}×**, server CPU per delivery **${r.ratios.cpuPerDelivery}×**. Straight to the worker runtime (no local proxy hop, as in production): p99 **${r.ratios.directFanoutP99}×**, CPU **${r.ratios.directCpuPerDelivery}×**.`,
    "",
    `Server CPU per delivery by process (µs), through wrangler dev: ${breakdownText(f.edgechat)}; runtime only: ${breakdownText(f.direct)}.`,
    "",
    `Send→ack at ${r.ack.rate} messages/s (edgechat): p50 ${r.ack.ack.p50} ms, p99 ${r.ack.ack.p99} ms, max ${r.ack.ack.max} ms, acked ${r.ack.acked}/${r.ack.sent}.`,
    "",
    `Write path into one room, persistence on: highest sustained rate **${r.write.sustainedRate} messages/s** (all acked, ack p99 ≤ ${SUSTAINED_P99_MS} ms). Zero loss check: ${r.write.postgresRows} rows in Postgres for ${r.write.sent} messages sent (${r.write.acked} acked within each step's settle window, the rest later).`,
    "",
    `The peer, Socket.IO storing each message row by row in the same Postgres before acking: **${r.peerWrite.sustainedRate} messages/s** (${r.peerWrite.postgresRows} rows for ${r.peerWrite.sent} sent). Edgechat / peer: **${r.ratios.writeVsPeer ?? "n/a"}×**.`,
    "",
    `Server CPU per message by process (µs) at each system's last step: edgechat (${r.write.steps.at(-1)?.rate}/s) ${cpuText(r.write.steps.at(-1)?.cpuUsPerMessage)}; socket.io + postgres (${r.peerWrite.steps.at(-1)?.rate}/s) ${cpuText(r.peerWrite.steps.at(-1)?.cpuUsPerMessage)}.`,
    "",
    "| offered msg/s | edgechat ack p50 ms | p99 ms | acked/sent | socket.io+pg ack p50 ms | p99 ms | acked/sent |",
    "|---|---|---|---|---|---|---|",
    ...[...new Set([...r.write.steps, ...r.peerWrite.steps].map((s) => s.rate))]
      .sort((a, b) => a - b)
      .map((rate) => {
        const e = r.write.steps.find((s) => s.rate === rate);
        const p = r.peerWrite.steps.find((s) => s.rate === rate);
        const cells = (x: typeof e) => (x ? `${x.ack.p50} | ${x.ack.p99} | ${x.acked}/${x.sent}` : "- | - | -");
        return `| ${rate} | ${cells(e)} | ${cells(p)} |`;
      }),
    "",
    `Idle memory per socket (RSS slope between ${r.idle.edgechat.sockets / 2} and ${r.idle.edgechat.sockets} sockets): edgechat ${r.idle.edgechat.bytesPerSocket} B in the worker runtime with the room hibernated; floor ${r.idle.floor.bytesPerSocket > 0 ? `${r.idle.floor.bytesPerSocket} B` : "below measurement noise (garbage collection moves RSS more than its sockets do)"}.`,
    "",
  ].join("\n");
}

function cpuText(split: Record<string, number> | undefined): string {
  const entries = Object.entries(split ?? {}).filter(([, us]) => us > 0);
  const total = entries.reduce((n, [, us]) => n + us, 0);
  return `${total} in all: ${entries.map(([name, us]) => `${name} ${us}`).join(", ")}`;
}

function breakdownText(x: FanoutResult): string {
  return Object.entries(x.cpuBreakdownUs)
    .filter(([, us]) => us > 0)
    .map(([name, us]) => `${name} ${us}`)
    .join(", ");
}

main().catch((err: Error) => {
  console.error(`[bench] ${err.stack ?? err.message}`);
  process.exit(1);
});
