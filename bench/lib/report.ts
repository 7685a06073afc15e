/** The Markdown summary of a benchmark run (bench/results/latest.md, quoted in the README). */

import { type CostResult, costReport } from "../scenarios/costs.ts";
import type { GridCell } from "../scenarios/grid.ts";
import type { HistoryResult } from "../scenarios/history.ts";
import type { RoomsResult, StormResult } from "../scenarios/rooms.ts";
import type { throttleBurst } from "../scenarios/throttle.ts";
import type { LatencySummary } from "./histogram.ts";

export interface FanoutResult {
  system: string;
  subscribers: number;
  rate: number;
  delivery: LatencySummary;
  /** Time to open every subscriber's socket (25 at a time per generator thread). */
  connect?: LatencySummary;
  deliveredRatio: number;
  serverCpuUsPerDelivery: number;
  /** Only the process holding the sockets (workerd's worker + objects; the Node server for Node systems). */
  runtimeCpuUsPerDelivery?: number;
  /** WebSocket frames the subscribers received: fewer than deliveries when messages were batched. */
  frames?: number;
  serverRssMb: number;
  /** Server CPU per delivery split by process (µs). */
  cpuBreakdownUs: Record<string, number>;
  loadGenCpuPct: number;
  loadGenLoopP99Ms: number;
  senderMaxLagMs: number;
  loadGenBottleneck: boolean;
}

export interface WriteStep {
  rate: number;
  ack: LatencySummary;
  acked: number;
  sent: number;
  senderMaxLagMs: number;
  sustained: boolean;
  /** Server CPU per message by process (µs) during this step: where the write path's time goes. */
  cpuUsPerMessage: Record<string, number>;
}

export interface WriteResult {
  system: string;
  steps: WriteStep[];
  sustainedRate: number;
  acked: number;
  sent: number;
  postgresRows: number;
}

export interface RunResult {
  machine: { cpus: number; cpuModel: string; memGb: number; node: string };
  mode: string;
  at: string;
  pinnedCores: boolean;
  fanout: { edgechat: FanoutResult; direct: FanoutResult; floor: FanoutResult; peer: FanoutResult };
  /** The platform's floor: a bare hibernating Durable Object in the same workerd (bench/servers/bare-room). */
  bare: {
    fanout: FanoutResult;
    big: FanoutResult;
    grid: { system: string; cells: GridCell[]; best: GridCell | null };
    rooms: RoomsResult;
    reconnect: StormResult;
  };
  /** The second fan-out target (one big room, a low rate), edgechat straight to the runtime and the bare object. */
  big: { edgechat: FanoutResult; bare: FanoutResult };
  /** One room's sockets reconnecting at once (a deploy). */
  reconnect: { edgechat: StormResult; bare: StormResult };
  costs: CostResult;
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
  grid: { system: string; cells: GridCell[]; best: GridCell | null }[];
  rooms: RoomsResult[];
  history: HistoryResult[];
  throttle: Awaited<ReturnType<typeof throttleBurst>>;
}

export function report(r: RunResult, o: { bodyBytes: number; p99LimitMs: number }): string {
  const f = r.fanout;
  const row = (x: FanoutResult) =>
    `| ${x.system} | ${x.delivery.p50} | ${x.delivery.p99} | ${x.delivery.max} | ${x.deliveredRatio} | ${x.serverCpuUsPerDelivery} | ${x.runtimeCpuUsPerDelivery ?? "-"} | ${x.loadGenCpuPct}% / loop p99 ${x.loadGenLoopP99Ms} ms${x.loadGenBottleneck ? " **(generator-bound)**" : ""} |`;
  return [
    `### edgechat vs the floor and Socket.IO (${r.mode} run, ${r.at})`,
    "",
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGb} GiB, load generator on Node ${r.machine.node} with worker threads. ${r.pinnedCores ? "Servers pinned to core 0, the load generator to core 1 (taskset); Postgres and Redis are shared system services." : "Server and generator share the cores (no taskset)."}`,
    "",
    `Fan-out: one room, ${f.edgechat.subscribers} subscribers, ${f.edgechat.rate} messages/s, ${o.bodyBytes}-byte bodies.`,
    "",
    "| system | delivery p50 ms | p99 ms | max ms | delivered/expected | server CPU µs/delivery | socket-holding process only | load generator CPU |",
    "|---|---|---|---|---|---|---|---|",
    row(f.edgechat),
    row(f.direct),
    row(r.bare.fanout),
    row(f.peer),
    row(f.floor),
    "",
    ...floorSection(r),
    `Edgechat (runtime only) / Socket.IO: fan-out p99 **${r.ratios.peerFanoutP99}×**, server CPU per delivery **${r.ratios.peerCpuPerDelivery}×**.`,
    "",
    `Ratios edgechat/floor through wrangler dev: fan-out p99 **${r.ratios.fanoutP99}×**, server CPU per delivery **${r.ratios.cpuPerDelivery}×**. Straight to the worker runtime (no local proxy hop, as in production): p99 **${r.ratios.directFanoutP99}×**, CPU **${r.ratios.directCpuPerDelivery}×**.`,
    "",
    `Server CPU per delivery by process (µs), through wrangler dev: ${breakdownText(f.edgechat)}; runtime only: ${breakdownText(f.direct)}.`,
    "",
    `Send→ack at ${r.ack.rate} messages/s (edgechat): p50 ${r.ack.ack.p50} ms, p99 ${r.ack.ack.p99} ms, max ${r.ack.ack.max} ms, acked ${r.ack.acked}/${r.ack.sent}.`,
    "",
    `Write path into one room, persistence on: highest sustained rate **${r.write.sustainedRate} messages/s** (all acked, ack p99 ≤ ${o.p99LimitMs} ms). Zero loss check: ${r.write.postgresRows} rows in Postgres for ${r.write.sent} messages sent (${r.write.acked} acked within each step's settle window, the rest later).`,
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
    ...gridSection(r, o.p99LimitMs),
    ...collapseSection(r),
    ...roomsSection(r),
    ...historySection(r),
    ...throttleSection(r),
    ...costReport(r.costs),
  ].join("\n");
}

const x = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : Number.NaN);
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

/** Issue 24's first target: edgechat straight to the runtime against the bare object, at two sizes. */
function floorSection(r: RunResult): string[] {
  const pairs: [string, FanoutResult, FanoutResult][] = [
    [`${r.fanout.direct.subscribers} × ${r.fanout.direct.rate}`, r.fanout.direct, r.bare.fanout],
    [`${r.big.edgechat.subscribers} × ${r.big.edgechat.rate}`, r.big.edgechat, r.big.bare],
  ];
  return [
    "Against the platform's floor (the bare Durable Object), straight to the runtime; targets: CPU per delivery ≤ 1.2×, delivery p99 ≤ 1.3×.",
    "",
    "| N × R | edgechat p99 ms | bare p99 ms | p99 × | edgechat CPU µs/delivery (all / runtime) | bare (all / runtime) | CPU × (runtime) | verdict |",
    "|---|---|---|---|---|---|---|---|",
    ...pairs.map(([name, e, b]) => {
      const cpu = x(
        e.runtimeCpuUsPerDelivery ?? e.serverCpuUsPerDelivery,
        b.runtimeCpuUsPerDelivery ?? b.serverCpuUsPerDelivery,
      );
      const p99 = x(e.delivery.p99, b.delivery.p99);
      return `| ${name} | ${e.delivery.p99} | ${b.delivery.p99} | ${p99} | ${e.serverCpuUsPerDelivery} / ${e.runtimeCpuUsPerDelivery ?? "-"} | ${b.serverCpuUsPerDelivery} / ${b.runtimeCpuUsPerDelivery ?? "-"} | ${cpu} | CPU ${verdict(cpu <= 1.2)}, p99 ${verdict(p99 <= 1.3)} |`;
    }),
    "",
  ];
}

/** Issue 24's second target: a busy room batches instead of collapsing (edgechat with batching subscribers). */
function collapseSection(r: RunResult): string[] {
  const grid = r.grid.find((g) => g.system.includes("batching"));
  const bare = r.grid.find((g) => g.system === r.bare.grid.system);
  if (!grid) return [];
  const cell = (n: number, rate: number) => grid.cells.find((c) => c.subscribers === n && c.rate === rate);
  const lines = [
    [1000, 50],
    [5000, 10],
  ].map(([n, rate]) => {
    const c = cell(n as number, rate as number);
    if (!c) return `- ${n} × ${rate}: not run (saturated before it, or a quick run)`;
    const ok = c.deliveredRatio >= 1 && c.p99 <= 300;
    return `- ${n} × ${rate}: delivered ${c.deliveredRatio}, p99 ${c.p99} ms, ${c.serverCpuUsPerDelivery} µs of server CPU per delivery: ${verdict(ok)} (target: everything delivered, p99 ≤ 300 ms)`;
  });
  const best = (g: typeof grid | undefined) => (g?.best ? g.best.subscribers * g.best.rate : 0);
  return [
    "No collapse (edgechat with subscribers that negotiated batching, straight to the runtime):",
    "",
    ...lines,
    `- Largest N×R at p99 ≤ 50 ms with nothing lost: ${best(grid)}/s batching against ${best(bare)}/s for the bare object: ${verdict(best(grid) >= best(bare))}.`,
    "",
  ];
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

function gridSection(r: RunResult, limit: number): string[] {
  const keys = [...new Set(r.grid.flatMap((g) => g.cells.map((c) => `${c.subscribers}×${c.rate}`)))];
  const cell = (g: RunResult["grid"][number], key: string) => {
    const c = g.cells.find((x) => `${x.subscribers}×${x.rate}` === key);
    if (!c) return "saturated";
    return `${c.p99}${c.deliveredRatio < 1 ? ` (${c.deliveredRatio} delivered)` : ""}${c.ok ? "" : " ✗"}`;
  };
  return [
    `Fan-out grid: one room, N subscribers × R messages/s, delivery p99 ms (✗: over ${limit} ms or not all delivered; "saturated": skipped after a saturated cell). Edgechat straight to the runtime.`,
    "",
    `| N×R | ${r.grid.map((g) => g.system).join(" | ")} |`,
    `|---|${r.grid.map(() => "---").join("|")}|`,
    ...keys.map((k) => `| ${k} | ${r.grid.map((g) => cell(g, k)).join(" | ")} |`),
    "",
    `Largest N×R (deliveries/s) at p99 ≤ ${limit} ms with nothing lost: ${r.grid
      .map(
        (g) =>
          `${g.system} **${g.best ? `${g.best.subscribers}×${g.best.rate} = ${g.best.subscribers * g.best.rate}/s` : "none"}**`,
      )
      .join(", ")}.`,
    "",
  ];
}

function roomsSection(r: RunResult): string[] {
  const first = r.rooms[0];
  if (!first) return [];
  const edge = r.rooms.find((x) => x.system.startsWith("edgechat"));
  return [
    `Many rooms: ${first.rooms} rooms × ${first.members} members (${first.sockets} sockets), connecting in a storm at ${first.connectRate}/s, idle ${first.idleSeconds} s (memory per idle socket: RSS growth of the socket-holding runtime), then one sender per room, ${first.rate} messages/s in all.`,
    "",
    "| system | connect p50 ms | connect p99 ms | failed | again (steady state): p50 / p99 ms, CPU µs per connect | idle memory / socket | delivery p50 ms | p99 ms | delivered/expected | server CPU µs/delivery | load generator |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.rooms.map(
      (x) =>
        `| ${x.system} | ${x.connect.p50} | ${x.connect.p99} | ${x.connectFailed} | ${x.again ? `${x.again.connect.p50} / ${x.again.connect.p99}, ${x.again.serverCpuUsPerConnect}${x.again.failed ? ` (${x.again.failed} failed)` : ""}` : "-"} | ${x.idleBytesPerSocket > 0 ? `${Math.round(x.idleBytesPerSocket / 100) / 10} KB` : "noise"} | ${x.delivery.p50} | ${x.delivery.p99} | ${x.deliveredRatio} | ${x.serverCpuUsPerDelivery} | ${x.loadGenCpuPct}% / loop p99 ${x.loadGenLoopP99Ms} ms${x.loadGenBottleneck ? " **(generator-bound)**" : ""} |`,
    ),
    "",
    `Connect p99 target (steady state, ${first.sockets} sockets at ${first.connectRate}/s): ≤ 2 s: edgechat ${edge?.again ? `${edge.again.connect.p99} ms, ${verdict(edge.again.connect.p99 <= 2000 && edge.again.failed === 0)}` : "**not measured** (the scenario failed: see the run's log)"}.`,
    "",
    `A deploy: ${r.reconnect.edgechat.sockets} sockets of one room reconnecting at once: edgechat all welcomed in ${r.reconnect.edgechat.allMs} ms (p99 ${r.reconnect.edgechat.connect.p99} ms, ${r.reconnect.edgechat.failed} failed, ${r.reconnect.edgechat.serverCpuUsPerConnect} µs of server CPU each), bare object ${r.reconnect.bare.allMs} ms; target ≤ 3 s: ${verdict(r.reconnect.edgechat.allMs <= 3000 && r.reconnect.edgechat.failed === 0)}.`,
    "",
  ];
}

function historySection(r: RunResult): string[] {
  return [
    "REST history, autocannon (closed loop), 50 messages per page:",
    "",
    "| endpoint | requests/s | p50 ms | p99 ms | max ms | non-2xx | errors |",
    "|---|---|---|---|---|---|---|",
    ...r.history.map(
      (h) => `| ${h.name} | ${h.requestsPerSecond} | ${h.p50} | ${h.p99} | ${h.max} | ${h.non2xx} | ${h.errors} |`,
    ),
    "",
  ];
}

function throttleSection(r: RunResult): string[] {
  const t = r.throttle;
  return [
    `Throttle burst: one user at ${t.offeredPerSecond} messages/s against a limit of ${t.limit} per ${t.windowMs} ms: ${t.sent} sent, ${t.allowed} allowed, ${t.throttled} throttled, ${t.unanswered} unanswered; an exact sliding window over the same send times allows ${t.expectedAllowed} (accuracy **${t.accuracy}**). Allowed sends acked in p50 ${t.allowedLatency.p50} ms / p99 ${t.allowedLatency.p99} ms; throttled replies p99 ${t.throttledLatency.p99} ms.`,
    "",
  ];
}
