/**
 * Fan-out over a grid: one room with N subscribers, R messages/s, for each N × R. A system's headline is
 * the largest N × R (deliveries/s) it serves at p99 <= 50 ms with nothing lost. Higher rates for an N are
 * skipped once a cell is saturated (p99 over a second or deliveries missing): they could only be worse,
 * and their backlog would spill into the next cell.
 */
import { summarize } from "../lib/histogram.ts";
import { cpuMeter } from "../lib/proc.ts";
import { Sender, Subscribers } from "../load/clients.ts";
import type { SocketSpec } from "../load/subscribers.ts";
import type { RunningSystem } from "../servers/systems.ts";

export interface GridCell {
  subscribers: number;
  rate: number;
  p50: number;
  p99: number;
  deliveredRatio: number;
  serverCpuUsPerDelivery: number;
  loadGenBottleneck: boolean;
  ok: boolean;
}

export interface GridPlan {
  subscribers: number[];
  rates: number[];
  seconds: number;
  threads: number;
  bodyBytes: number;
  p99LimitMs: number;
}

export async function fanoutGrid(
  sys: RunningSystem,
  room: (subscribers: number) => Promise<{ subscribers: SocketSpec[]; sender: SocketSpec }>,
  plan: GridPlan,
): Promise<{ system: string; cells: GridCell[]; best: GridCell | null }> {
  const cells: GridCell[] = [];
  for (const n of plan.subscribers) {
    const sockets = await room(n);
    const subs = new Subscribers(sockets.subscribers, plan.threads);
    const { connected, failed, firstError } = await subs.ready;
    if (failed > 0)
      console.log(`[bench] ${sys.name} grid: ${failed} of ${n} subscribers could not connect (first: ${firstError})`);
    const send = new Sender(sockets.sender);
    const opened = await send.opened.then(
      () => true,
      (err: Error) => {
        console.log(`[bench] ${sys.name} grid: the sender could not connect (${err.message})`);
        return false;
      },
    );
    if (!opened) {
      await subs.close();
      continue;
    }
    for (const rate of plan.rates) {
      const server = cpuMeter(() => sys.pids());
      server.start();
      const idPrefix = `grid-${n}-${rate}-${Date.now()}`;
      await subs.start(idPrefix);
      const run = await send.run({ rate, seconds: plan.seconds, bodyBytes: plan.bodyBytes, idPrefix });
      const got = await subs.stop();
      const cpuMs = server.stop();
      const d = summarize(got.latency);
      const ratio = run.sent * connected ? got.delivered / (run.sent * connected) : 0;
      const cell: GridCell = {
        subscribers: connected,
        rate,
        p50: d.p50,
        p99: d.p99,
        deliveredRatio: Math.round(ratio * 10_000) / 10_000,
        serverCpuUsPerDelivery: got.delivered ? Math.round((cpuMs * 1000) / got.delivered) : 0,
        loadGenBottleneck: got.loopP99Ms > 20 || run.maxLagMs > 20,
        ok: failed === 0 && ratio >= 1 && d.p99 <= plan.p99LimitMs,
      };
      cells.push(cell);
      console.log(`[bench] ${sys.name} grid ${connected}×${rate}/s: p99 ${d.p99} ms, delivered ${cell.deliveredRatio}`);
      if (d.p99 > 1000 || ratio < 0.99) {
        // Let the backlog drain before the next N connects, or it measures this cell's leftovers.
        await new Promise((r) => setTimeout(r, 15_000));
        break;
      }
    }
    send.close();
    await subs.close();
  }
  const best = cells.filter((c) => c.ok).sort((a, b) => b.subscribers * b.rate - a.subscribers * a.rate)[0] ?? null;
  return { system: sys.name, cells, best };
}
