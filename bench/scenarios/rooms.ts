/**
 * Many rooms, entered in a connect storm: every member of every room connects at a fixed arrival rate
 * (connect p99, failures), the sockets sit idle long enough for rooms to hibernate (memory per idle
 * socket), then one sender per room sends, `rate` messages/s in all, and every member must get every
 * message of its room.
 */
import { type LatencySummary, summarize } from "../lib/histogram.ts";
import { cpuMeter, usage } from "../lib/proc.ts";
import { Subscribers } from "../load/clients.ts";
import type { SocketSpec } from "../load/subscribers.ts";
import type { RunningSystem } from "../servers/systems.ts";

export interface RoomsPlan {
  rooms: number;
  members: number;
  connectRate: number;
  idleSeconds: number;
  rate: number;
  seconds: number;
  threads: number;
  bodyBytes: number;
}

export interface RoomsResult {
  system: string;
  rooms: number;
  members: number;
  connectRate: number;
  idleSeconds: number;
  rate: number;
  sockets: number;
  connected: number;
  connectFailed: number;
  connect: LatencySummary;
  idleBytesPerSocket: number;
  delivery: LatencySummary;
  ack: LatencySummary | null;
  sent: number;
  deliveredRatio: number;
  serverCpuUsPerDelivery: number;
  serverRssMb: number;
  loadGenCpuPct: number;
  loadGenLoopP99Ms: number;
  loadGenBottleneck: boolean;
  /** The same sockets connecting again at the same rate, after all closed (steady state). */
  again?: StormResult;
}

/** `rooms[r]` lists room r's member sockets; the first of each room sends. */
export async function manyRooms(sys: RunningSystem, rooms: SocketSpec[][], plan: RoomsPlan): Promise<RoomsResult> {
  const sockets = rooms.flatMap((members) => members.map((m, i) => ({ ...m, sender: i === 0 })));
  const rssBefore = usage(sys.runtimePids()).rssBytes;
  const subs = new Subscribers(sockets, plan.threads, { connectRate: plan.connectRate });
  const { connected, failed, firstError, connect } = await subs.ready;
  if (failed > 0) console.log(`[bench] ${sys.name}: ${failed} sockets could not connect (first: ${firstError})`);
  await new Promise((r) => setTimeout(r, plan.idleSeconds * 1000));
  const rssIdle = usage(sys.runtimePids()).rssBytes;

  const server = cpuMeter(() => sys.pids());
  const ownCpu = process.cpuUsage();
  const wallStart = performance.now();
  server.start();
  await subs.start();
  const run = await subs.send({ rate: plan.rate, seconds: plan.seconds, bodyBytes: plan.bodyBytes, prefix: "rooms" });
  const got = await subs.stop();
  const serverCpuMs = server.stop();
  const own = process.cpuUsage(ownCpu);
  const loadGenCpuPct = Math.round(((own.user + own.system) / 1000 / (performance.now() - wallStart)) * 100);
  const rss = usage(sys.pids()).rssBytes;
  await subs.close();
  const expected = run.sent * plan.members;
  return {
    system: sys.name,
    rooms: rooms.length,
    members: plan.members,
    connectRate: plan.connectRate,
    idleSeconds: plan.idleSeconds,
    rate: plan.rate,
    sockets: sockets.length,
    connected,
    connectFailed: failed,
    connect: summarize(connect),
    idleBytesPerSocket: Math.round((rssIdle - rssBefore) / Math.max(1, connected)),
    delivery: summarize(got.latency),
    ack: run.acked > 0 ? summarize(run.ack) : null,
    sent: run.sent,
    deliveredRatio: expected ? Math.round((got.delivered / expected) * 10_000) / 10_000 : 0,
    serverCpuUsPerDelivery: got.delivered ? Math.round((serverCpuMs * 1000) / got.delivered) : 0,
    serverRssMb: Math.round(rss / 1e6),
    loadGenCpuPct,
    loadGenLoopP99Ms: Math.round(got.loopP99Ms * 10) / 10,
    loadGenBottleneck: got.loopP99Ms > 20 || run.maxLagMs > 20 || loadGenCpuPct > 85 * plan.threads,
  };
}

export interface StormResult {
  system: string;
  sockets: number;
  rate: number;
  connected: number;
  failed: number;
  connect: LatencySummary;
  /** From the first connect attempt to the last socket open (welcomed). */
  allMs: number;
  serverCpuUsPerConnect: number;
}

/**
 * A connect storm and nothing else: `sockets` open at `rate`/s (open loop; a huge rate is "all at once",
 * a deploy's reconnect wave), then close. Run after manyRooms with the same sockets it is the steady state:
 * every member connected before (rooms know them, sessions are cached).
 */
export async function connectStorm(
  sys: RunningSystem,
  sockets: SocketSpec[],
  rate: number,
  threads: number,
): Promise<StormResult> {
  const server = cpuMeter(() => sys.pids());
  server.start();
  const started = performance.now();
  const subs = new Subscribers(sockets, threads, { connectRate: rate });
  const { connected, failed, firstError, connect } = await subs.ready;
  const allMs = Math.round(performance.now() - started);
  const cpuMs = server.stop();
  if (failed > 0) console.log(`[bench] ${sys.name}: ${failed} sockets could not connect (first: ${firstError})`);
  await subs.close();
  return {
    system: sys.name,
    sockets: sockets.length,
    rate,
    connected,
    failed,
    connect: summarize(connect),
    allMs,
    serverCpuUsPerConnect: connected ? Math.round((cpuMs * 1000) / connected) : 0,
  };
}
