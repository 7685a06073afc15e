/**
 * `npm run bench` (`-- --quick` for a smoke run): edgechat under `wrangler dev` with the real local stack,
 * against the platform's floor (a bare hibernating Durable Object that re-sends each frame to every socket,
 * in the same workerd), the `ws` floor (a bare Node broadcast server) and Socket.IO, in the same run, with
 * the same load generator. Prints a table and writes bench/results/latest.{json,md} and the charts.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderCharts } from "./lib/chart.ts";
import { summarize } from "./lib/histogram.ts";
import { breakdown, snapshot, usage } from "./lib/proc.ts";
import { type RunResult, report, type WriteResult, type WriteStep } from "./lib/report.ts";
import { Sender, Subscribers } from "./load/clients.ts";
import type { Dialect } from "./load/protocol.ts";
import { costScenario } from "./scenarios/costs.ts";
import { fanout as runFanout } from "./scenarios/fanout.ts";
import { fanoutGrid } from "./scenarios/grid.ts";
import { type HistoryResult, restHistory } from "./scenarios/history.ts";
import { type InboxResult, inboxPlan, inboxReport, inboxScenario } from "./scenarios/inbox.ts";
import { connectStorm, manyRooms } from "./scenarios/rooms.ts";
import { throttleBurst } from "./scenarios/throttle.ts";
import { startBareRoom } from "./servers/bare-room.ts";
import {
  countPeerRows,
  countRows,
  type EdgechatSystem,
  pinLoadGenerator,
  type RunningSystem,
  seedPeerHistory,
  seedRoom,
  seedRooms,
  startEdgechat,
  startFloor,
  startSocketIo,
} from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(ROOT, "bench", "results");
const quick = process.argv.includes("--quick");
/** `--inbox`: only the inbox scenario (issue 25), on its own stack; its sizes: see inboxPlan. */
const inboxOnly = process.argv.includes("--inbox");
/** `--write`: only edgechat's write path (the ramp into one room, persistence on), on its own stack. */
const writeOnly = process.argv.includes("--write");
const inboxSizes = inboxPlan(process.argv, quick);
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
      grid: { subscribers: [10, 100], rates: [1, 10], seconds: 2 },
      big: { subscribers: 200, rate: 1 },
      reconnect: 100,
      costs: { members: 20, offline: 4, messages: 60, rate: 20 },
      rooms: { rooms: 20, members: 5, connectRate: 100, idleSeconds: 3, rate: 20, seconds: 3 },
      history: { messages: 600, seconds: 2, connections: 10 },
      throttle: { limit: 20, windowMs: 1000, multiple: 10, seconds: 2 },
    }
  : {
      subscribers: 1000,
      rate: 10,
      seconds: 10,
      ackRate: 20,
      ackSeconds: 10,
      ramp: [100, 250, 500, 1000, 1500, 2000, 3000, 4000],
      rampSeconds: 5,
      idle: 1000,
      threads: 2,
      grid: { subscribers: [10, 100, 1000, 5000], rates: [1, 10, 50], seconds: 5 },
      /** The second fan-out target: one big room at a low rate. */
      big: { subscribers: 5000, rate: 1 },
      /** Sockets of one room that reconnect at once (a deploy). */
      reconnect: 1000,
      costs: { members: 100, offline: 20, messages: 1000, rate: 20 },
      rooms: { rooms: 1000, members: 10, connectRate: 500, idleSeconds: 15, rate: 200, seconds: 10 },
      history: { messages: 600, seconds: 10, connections: 10 },
      throttle: { limit: 20, windowMs: 1000, multiple: 10, seconds: 5 },
    };
const BODY_BYTES = 200;
const SUSTAINED_P99_MS = 50;

const log = (line: string) => console.log(`[bench] ${line}`);

type Socket = { url: string; headers: Record<string, string>; dialect?: Dialect };

/** One room's fan-out at the run's main size (or `o.rate`), as bench/scenarios/fanout.ts measures it. */
function fanout(sys: RunningSystem, sockets: Socket[], sender: Socket, o: { rate?: number } = {}) {
  return runFanout(sys, sockets, sender, {
    rate: o.rate ?? plan.rate,
    seconds: plan.seconds,
    threads: plan.threads,
    bodyBytes: BODY_BYTES,
  });
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

/**
 * The same ramp for any system: open-loop sends at rising rates into one room, then a zero-loss check
 * against the system's store (`rows` counts what it persisted).
 */
async function writeRamp(sys: RunningSystem, socket: Socket, rows: () => Promise<number>): Promise<WriteResult> {
  const system = sys.name;
  const send = new Sender(socket);
  await send.opened;
  const steps: WriteStep[] = [];
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

/** Per-system sockets for a one-room fan-out of `n` subscribers. */
const floorRoom = (port: number, name: string) => async (n: number) => {
  const socket = { url: `ws://127.0.0.1:${port}/?room=${name}-${n}`, headers: {} };
  return { subscribers: Array.from({ length: n }, () => socket), sender: socket };
};
const sioRoom = (url: string, name: string) => async (n: number) => {
  const socket = { url: `${url}&room=${name}-${n}`, headers: {}, dialect: "socketio" as const };
  return { subscribers: Array.from({ length: n }, () => socket), sender: socket };
};
const bareRoom = (bare: Awaited<ReturnType<typeof startBareRoom>>, name: string) => async (n: number) => {
  const socket = { url: bare.url(`${name}-${n}-${Date.now()}`), headers: {} };
  return { subscribers: Array.from({ length: n }, () => socket), sender: socket };
};
/** Edgechat sockets that negotiated batching (protocol 2 from version 0 of a fresh room). */
const batched = (room: { subscribers: Socket[]; sender: Socket }) => ({
  ...room,
  subscribers: room.subscribers.map((s) => ({ ...s, url: `${s.url}?since=0&batch=1` })),
});
const sameRooms = (count: number, members: number, at: (room: number) => Socket) =>
  Array.from({ length: count }, (_, r) => Array.from({ length: members }, () => at(r)));

const gridPlan = { ...plan.grid, threads: plan.threads, bodyBytes: BODY_BYTES, p99LimitMs: SUSTAINED_P99_MS };
/**
 * Rooms that fit the machine's open-files limit. Under wrangler dev the worker runtime holds two file
 * descriptors per WebSocket (the client's socket and its internal hop) and, for an edgechat room, about ten
 * more (its SQLite database, WAL and shared memory, and its connections to the local Neon and Upstash
 * bridges while it writes through); past the limit workerd aborts ("accept: Too many open files": 700
 * rooms of 10 did, on a 20,000 limit, 2026-12-07). Every system gets the same number, so the comparison
 * stays at one load.
 */
function roomsThatFit(wanted: number, members: number): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const limit = Number(line?.split(/\s+/)[3] ?? 1024);
  const fit = Math.floor((limit - 3000) / (2 * members + 10));
  return Math.min(wanted, fit >= 100 ? Math.floor(fit / 100) * 100 : fit);
}
const roomCount = roomsThatFit(plan.rooms.rooms, plan.rooms.members);
const roomsPlan = { ...plan.rooms, rooms: roomCount, threads: plan.threads, bodyBytes: BODY_BYTES };

/** The inbox scenario on the running stack: its table, and bench/results/inbox*.json and .md. */
async function inbox(edge: EdgechatSystem): Promise<InboxResult> {
  log(
    `edgechat: inbox, ${inboxSizes.users} inboxes × ${inboxSizes.roomsPerUser} rooms of ${inboxSizes.membersPerRoom}, ${inboxSizes.rate} msg/s`,
  );
  const result = await inboxScenario(edge, inboxSizes);
  const name = quick ? "inbox-quick" : `inbox-${inboxSizes.users}x${inboxSizes.roomsPerUser}`;
  writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify({ plan: inboxSizes, ...result }, null, 2)}\n`);
  const md = inboxReport(result, inboxSizes);
  writeFileSync(path.join(RESULTS, `${name}.md`), md);
  console.log(`\n${md}`);
  if (result.lostUpdates > 0) {
    console.error("[bench] LOSS: inboxes that disagree with Postgres, or updates never shown");
    process.exitCode = 1;
  }
  return result;
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  if (writeOnly) {
    pinLoadGenerator();
    const edge = await startEdgechat(path.join(RESULTS, "edgechat-write.log"));
    try {
      const write = await writePath(edge);
      log(`edgechat write path: sustained ${write.sustainedRate}/s, ${write.postgresRows} rows for ${write.sent} sent`);
      for (const step of write.steps)
        log(`  ${step.rate}/s: CPU µs per message ${JSON.stringify(step.cpuUsPerMessage)}`);
    } finally {
      await edge.stop();
    }
    return;
  }
  if (inboxOnly) {
    pinLoadGenerator();
    const edge = await startEdgechat(path.join(RESULTS, "edgechat-inbox.log"));
    try {
      await inbox(edge);
    } finally {
      await edge.stop();
    }
    return;
  }
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
  log("floor: fan-out grid");
  const floorGrid = await fanoutGrid(floor, floorRoom(floor.port, "grid"), gridPlan);
  if (roomCount < plan.rooms.rooms)
    log(
      `many rooms: ${roomCount} rooms instead of ${plan.rooms.rooms}, as many as this machine's open-files limit allows`,
    );
  log(`floor: ${roomCount} rooms × ${plan.rooms.members}, connect storm at ${plan.rooms.connectRate}/s`);
  const floorRoomSockets = sameRooms(roomCount, plan.rooms.members, (r) => ({
    url: `ws://127.0.0.1:${floor.port}/?room=r${r}`,
    headers: {},
  }));
  const floorRooms = await manyRooms(floor, floorRoomSockets, roomsPlan);
  floorRooms.again = await connectStorm(floor, floorRoomSockets.flat(), plan.rooms.connectRate, plan.threads);
  await floor.stop();

  log("socket.io: fan-out");
  const sio = await startSocketIo();
  const sioFanout = await fanout(
    sio,
    Array.from({ length: plan.subscribers }, () => sio.socket),
    sio.socket,
  );
  log("socket.io: fan-out grid");
  const sioGrid = await fanoutGrid(sio, sioRoom(sio.socket.url, "grid"), gridPlan);
  log("socket.io: many rooms");
  const sioRoomSockets = sameRooms(roomCount, plan.rooms.members, (r) => ({
    ...sio.socket,
    url: `${sio.socket.url}&room=r${r}`,
  }));
  const sioRooms = await manyRooms(sio, sioRoomSockets, roomsPlan);
  sioRooms.again = await connectStorm(sio, sioRoomSockets.flat(), plan.rooms.connectRate, plan.threads);
  await sio.stop();

  log("bare DO (the platform's floor: a hibernating Durable Object in the same workerd): fan-out");
  const bare = await startBareRoom();
  let bareResults: RunResult["bare"];
  try {
    const main = await bareRoom(bare, "fan")(plan.subscribers);
    const bareFanout = await fanout(bare, main.subscribers, main.sender);
    const big = await bareRoom(bare, "big")(plan.big.subscribers);
    log(`bare DO: fan-out ${plan.big.subscribers} × ${plan.big.rate}`);
    const bareBig = await fanout(bare, big.subscribers, big.sender, { rate: plan.big.rate });
    log("bare DO: fan-out grid");
    const bareGrid = await fanoutGrid(bare, bareRoom(bare, "grid"), gridPlan);
    log(`bare DO: ${roomCount} rooms × ${plan.rooms.members}, connect storm at ${plan.rooms.connectRate}/s`);
    const bareRoomSockets = sameRooms(roomCount, plan.rooms.members, (r) => ({ url: bare.url(`r${r}`), headers: {} }));
    const bareRooms = await manyRooms(bare, bareRoomSockets, roomsPlan);
    bareRooms.again = await connectStorm(bare, bareRoomSockets.flat(), plan.rooms.connectRate, plan.threads);
    log(`bare DO: ${plan.reconnect} sockets of one room reconnecting at once`);
    const wave = (await bareRoom(bare, "wave")(plan.reconnect)).subscribers;
    await connectStorm(bare, wave, 1_000_000, plan.threads);
    const bareWave = await connectStorm(bare, wave, 1_000_000, plan.threads);
    bareResults = { fanout: bareFanout, big: bareBig, grid: bareGrid, rooms: bareRooms, reconnect: bareWave };
  } finally {
    await bare.stop();
  }

  log("edgechat: starting npm run dev stack (log: bench/results/edgechat-dev.log)");
  const edge = await startEdgechat(path.join(RESULTS, "edgechat-dev.log"));
  let partial: Omit<RunResult, "throttle">;
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
    log(`edgechat: fan-out ${plan.big.subscribers} × ${plan.big.rate} (runtime only)`);
    const bigRoom = await seedRoom(edge, plan.big.subscribers, edge.directPort);
    const edgeBig = {
      ...(await fanout(edge, bigRoom.subscribers, bigRoom.sender, { rate: plan.big.rate })),
      system: "edgechat (runtime only)",
    };
    log(`edgechat: ${plan.reconnect} sockets of one room reconnecting at once (runtime only)`);
    const waveRoom = (await seedRoom(edge, plan.reconnect, edge.directPort)).subscribers;
    await connectStorm(edge, waveRoom, 1_000_000, plan.threads);
    const edgeWave = {
      ...(await connectStorm(edge, waveRoom, 1_000_000, plan.threads)),
      system: "edgechat (runtime only)",
    };
    log("edgechat: send→ack");
    const ack = await ackLatency(edge);
    log("edgechat: write path");
    const write = await writePath(edge);
    log("socket.io + postgres (row by row): write path, then REST history");
    const peerDb = await startSocketIo(edge.databaseUrl);
    let peerWrite: WriteResult;
    let peerHistory: HistoryResult[];
    try {
      peerWrite = await writeRamp(peerDb, peerDb.socket, () => countPeerRows(edge.databaseUrl, "w"));
      peerHistory = await peerHistoryPages(edge.databaseUrl, peerDb.port);
    } finally {
      await peerDb.stop();
    }
    log("edgechat: REST history (autocannon)");
    const history = await edgeHistoryPages(edge);
    log("edgechat: idle memory (hibernated)");
    const idleRoom = await seedRoom(edge, plan.idle);
    const edgeIdle = await idleMemory(edge, idleRoom.subscribers);
    log("edgechat: fan-out grid (runtime only)");
    const edgeGrid = await fanoutGrid(
      { ...edge, name: "edgechat (runtime only)" },
      async (n) => seedRoom(edge, n, edge.directPort),
      gridPlan,
    );
    log("edgechat: fan-out grid, batching subscribers (runtime only)");
    const edgeBatchGrid = await fanoutGrid(
      { ...edge, name: "edgechat, batching (runtime only)" },
      async (n) => batched(await seedRoom(edge, n, edge.directPort)),
      gridPlan,
    );
    log(
      `edgechat: what it costs (${plan.costs.messages} messages, ${plan.costs.members} members, ${plan.costs.offline} offline)`,
    );
    const costs = await costScenario(edge, { ...plan.costs, bodyBytes: BODY_BYTES });

    await inbox(edge);

    const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
    partial = {
      at: new Date().toISOString(),
      mode: quick ? "quick" : "full",
      machine,
      pinnedCores,
      fanout: { edgechat: edgeFanout, direct: edgeDirect, floor: floorFanout, peer: sioFanout },
      bare: bareResults,
      big: { edgechat: edgeBig, bare: bareResults.big },
      reconnect: { edgechat: edgeWave, bare: bareResults.reconnect },
      costs,
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
      grid: [edgeGrid, edgeBatchGrid, bareResults.grid, sioGrid, floorGrid],
      rooms: [bareResults.rooms, sioRooms, floorRooms],
      history: [...history, ...peerHistory],
    };
  } finally {
    await edge.stop();
  }

  // The storm on a stack of its own, last but one: it takes the runtime nearest its open-files limit, and
  // a runtime that falls over there must not take the other scenarios' figures with it.
  log(`edgechat: ${roomCount} rooms × ${plan.rooms.members}, connect storm at ${plan.rooms.connectRate}/s (own stack)`);
  const stormStack = await startEdgechat(path.join(RESULTS, "edgechat-rooms.log"));
  try {
    const seededRooms = await seedRooms(stormStack, roomCount, plan.rooms.members, stormStack.directPort);
    const edgeRoomSockets = seededRooms.map((r) => r.members);
    const edgeRooms = {
      ...(await manyRooms(stormStack, edgeRoomSockets, roomsPlan)),
      system: "edgechat (runtime only)",
    };
    log("edgechat: the same sockets connecting again (steady state)");
    edgeRooms.again = await connectStorm(stormStack, edgeRoomSockets.flat(), plan.rooms.connectRate, plan.threads);
    partial.rooms.unshift(edgeRooms);
  } catch (err) {
    log(`edgechat: the many-rooms scenario failed (${(err as Error).message}); see bench/results/edgechat-rooms.log`);
    process.exitCode = 1;
  } finally {
    await stormStack.stop().catch(() => undefined);
  }

  log(`edgechat: throttle burst at ${plan.throttle.multiple}× the limit (its own stack, with that limit)`);
  const limited = await startEdgechat(path.join(RESULTS, "edgechat-throttle.log"), {
    THROTTLE_MESSAGES: String(plan.throttle.limit),
    THROTTLE_WINDOW_MS: String(plan.throttle.windowMs),
    // Measure the window itself for the whole burst, not the abuse cut-off that would end it early.
    THROTTLE_ABUSE_REJECTIONS: "1000000000",
  });
  let throttle: RunResult["throttle"];
  try {
    const room = await seedRoom(limited, 0, limited.directPort);
    throttle = await throttleBurst(room.sender, { ...plan.throttle, bodyBytes: BODY_BYTES });
  } finally {
    await limited.stop();
  }

  const result: RunResult = { ...partial, throttle };
  renderCharts(result, RESULTS, quick ? "quick" : "latest");
  writeFileSync(path.join(RESULTS, quick ? "quick.json" : "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
  const md = report(result, { bodyBytes: BODY_BYTES, p99LimitMs: SUSTAINED_P99_MS });
  writeFileSync(path.join(RESULTS, quick ? "quick.md" : "latest.md"), md);
  console.log(`\n${md}`);
  const lost =
    result.fanout.edgechat.deliveredRatio < 1 ||
    result.fanout.direct.deliveredRatio < 1 ||
    result.write.postgresRows < result.write.sent ||
    result.peerWrite.postgresRows < result.peerWrite.sent ||
    result.ack.acked < result.ack.sent ||
    result.rooms.some((r) => r.deliveredRatio < 1) ||
    throttle.unanswered > 0;
  if (lost) {
    console.error("[bench] LOSS: delivered/expected below 1.0, sends unanswered, or messages missing from Postgres");
    process.exitCode = 1;
  }
}

/** Latest page (the Redis buffer) and a page older than the buffer (Postgres) of a seeded room. */
async function edgeHistoryPages(edge: EdgechatSystem): Promise<HistoryResult[]> {
  const seeded = await seedRoom(edge, 0, edge.directPort);
  const send = new Sender(seeded.sender);
  await send.opened;
  await send.run({ rate: 300, seconds: plan.history.messages / 300, bodyBytes: BODY_BYTES, idPrefix: "hist" });
  send.close();
  for (let i = 0; i < 60 && (await countRows(edge, seeded.room)) < plan.history.messages; i++)
    await new Promise((r) => setTimeout(r, 500));
  const base = `http://127.0.0.1:${edge.directPort}/api/rooms/${seeded.room}/messages`;
  const pages = [
    ["edgechat latest page", `${base}?limit=50`],
    ["edgechat old page", `${base}?limit=50&before=51`],
  ] as const;
  const out: HistoryResult[] = [];
  for (const [name, url] of pages) {
    const probe = await fetch(url, { headers: seeded.sender.headers });
    const source = probe.headers.get("x-history-source") ?? "?";
    await probe.arrayBuffer();
    if (!probe.ok) throw new Error(`${name}: HTTP ${probe.status}`);
    out.push({
      ...(await restHistory(`${name} (${source})`, url, seeded.sender.headers, plan.history)),
    });
  }
  return out;
}

/** The peer's history endpoint over the same number of rows, newest page and an old one. */
async function peerHistoryPages(databaseUrl: string, port: number): Promise<HistoryResult[]> {
  const firstId = await seedPeerHistory(databaseUrl, "hist", plan.history.messages);
  const base = `http://127.0.0.1:${port}/history?room=hist`;
  return [
    await restHistory("socket.io + postgres latest page", `${base}&limit=50`, {}, plan.history),
    await restHistory("socket.io + postgres old page", `${base}&limit=50&before=${firstId + 50}`, {}, plan.history),
  ];
}

main().catch((err: Error) => {
  console.error(`[bench] ${err.stack ?? err.message}`);
  process.exit(1);
});
