/**
 * One room, N subscribers, R messages/s from one open-loop sender: delivery latency, what was delivered,
 * and the server's CPU per delivery read from /proc (robust to load on other cores: it is the servers'
 * own CPU time, not wall clock), in all and for the process that holds the sockets.
 */
import { summarize } from "../lib/histogram.ts";
import { breakdown, cpuMeter, snapshot, usage } from "../lib/proc.ts";
import type { FanoutResult } from "../lib/report.ts";
import { Sender, Subscribers } from "../load/clients.ts";
import type { SocketSpec } from "../load/subscribers.ts";
import type { RunningSystem } from "../servers/systems.ts";

export interface FanoutPlan {
  rate: number;
  seconds: number;
  threads: number;
  bodyBytes: number;
  /** Warm-up seconds at the same rate before measuring (JIT, connections). */
  warmSeconds?: number;
  /** Called around the measured window (e.g. to record a perf profile of exactly that span). */
  around?: { start(): void; stop(): Promise<void> };
}

export async function fanout(
  sys: RunningSystem,
  sockets: SocketSpec[],
  sender: SocketSpec,
  plan: FanoutPlan,
): Promise<FanoutResult> {
  const subs = new Subscribers(sockets, plan.threads);
  const { connected, connect } = await subs.ready;
  const send = new Sender(sender);
  await send.opened;
  await send.run({
    rate: plan.rate,
    seconds: plan.warmSeconds ?? 1,
    bodyBytes: plan.bodyBytes,
    idPrefix: `warm-${Date.now()}`,
    settleMs: 500,
  });
  const server = cpuMeter(() => sys.pids());
  const runtime = cpuMeter(() => sys.runtimePids());
  const ownCpu = process.cpuUsage();
  const wallStart = performance.now();
  const perProcess = snapshot(sys.pids());
  server.start();
  runtime.start();
  plan.around?.start();
  const idPrefix = `fan-${Date.now()}`;
  await subs.start(idPrefix);
  const run = await send.run({ rate: plan.rate, seconds: plan.seconds, bodyBytes: plan.bodyBytes, idPrefix });
  const got = await subs.stop();
  const serverCpuMs = server.stop();
  const runtimeCpuMs = runtime.stop();
  await plan.around?.stop();
  const split = breakdown(perProcess, sys.pids());
  const wallMs = performance.now() - wallStart;
  const own = process.cpuUsage(ownCpu);
  const loadGenCpuPct = Math.round(((own.user + own.system) / 1000 / wallMs) * 100);
  const rss = usage(sys.pids()).rssBytes;
  send.close();
  await subs.close();
  const expected = run.sent * connected;
  const perDelivery = (ms: number) => (got.delivered ? Math.round((ms * 10_000) / got.delivered) / 10 : 0);
  return {
    system: sys.name,
    subscribers: connected,
    rate: plan.rate,
    delivery: summarize(got.latency),
    connect: summarize(connect),
    deliveredRatio: expected ? Math.round((got.delivered / expected) * 10_000) / 10_000 : 0,
    serverCpuUsPerDelivery: perDelivery(serverCpuMs),
    runtimeCpuUsPerDelivery: perDelivery(runtimeCpuMs),
    serverRssMb: Math.round(rss / 1e6),
    cpuBreakdownUs: Object.fromEntries(
      Object.entries(split)
        .filter(([, ms]) => ms > 0)
        .map(([name, ms]) => [name, perDelivery(ms)]),
    ),
    loadGenCpuPct,
    loadGenLoopP99Ms: Math.round(got.loopP99Ms * 10) / 10,
    senderMaxLagMs: Math.round(run.maxLagMs * 10) / 10,
    frames: got.frames,
    // A generator whose event loops stall or fall behind schedule measures itself, not the server.
    loadGenBottleneck: got.loopP99Ms > 20 || run.maxLagMs > 20 || loadGenCpuPct > 85 * plan.threads,
  };
}
