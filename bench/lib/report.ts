/** The Markdown summary of a benchmark run (bench/results/latest.md, quoted in the README). */

import type { GridCell } from "../scenarios/grid.ts";
import type { HistoryResult } from "../scenarios/history.ts";
import type { RoomsResult } from "../scenarios/rooms.ts";
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
    `| ${x.system} | ${x.delivery.p50} | ${x.delivery.p99} | ${x.delivery.max} | ${x.deliveredRatio} | ${x.serverCpuUsPerDelivery} | ${x.loadGenCpuPct}% / loop p99 ${x.loadGenLoopP99Ms} ms${x.loadGenBottleneck ? " **(generator-bound)**" : ""} |`;
  return [
    `### edgechat vs the floor and Socket.IO (${r.mode} run, ${r.at})`,
    "",
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGb} GiB, load generator on Node ${r.machine.node} with worker threads. ${r.pinnedCores ? "Servers pinned to core 0, the load generator to core 1 (taskset); Postgres and Redis are shared system services." : "Server and generator share the cores (no taskset)."}`,
    "",
    `Fan-out: one room, ${f.edgechat.subscribers} subscribers, ${f.edgechat.rate} messages/s, ${o.bodyBytes}-byte bodies.`,
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
    ...roomsSection(r),
    ...historySection(r),
    ...throttleSection(r),
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
  return [
    `Many rooms: ${first.rooms} rooms × ${first.members} members (${first.sockets} sockets), connecting in a storm at ${first.connectRate}/s, idle ${first.idleSeconds} s (memory per idle socket: RSS growth of the socket-holding runtime), then one sender per room, ${first.rate} messages/s in all.`,
    "",
    "| system | connect p50 ms | connect p99 ms | failed | idle memory / socket | delivery p50 ms | p99 ms | delivered/expected | server CPU µs/delivery | load generator |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...r.rooms.map(
      (x) =>
        `| ${x.system} | ${x.connect.p50} | ${x.connect.p99} | ${x.connectFailed} | ${x.idleBytesPerSocket > 0 ? `${Math.round(x.idleBytesPerSocket / 100) / 10} KB` : "noise"} | ${x.delivery.p50} | ${x.delivery.p99} | ${x.deliveredRatio} | ${x.serverCpuUsPerDelivery} | ${x.loadGenCpuPct}% / loop p99 ${x.loadGenLoopP99Ms} ms${x.loadGenBottleneck ? " **(generator-bound)**" : ""} |`,
    ),
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
