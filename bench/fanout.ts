/**
 * `npm run bench:fanout -- [subscribers] [rate] [--runs 3] [--seconds 10] [--systems bare,edgechat]
 * [--body N] [--batch] [--persist] [--perf]`: one room's fan-out, edgechat straight to the worker runtime
 * against the platform's floor (a bare hibernating Durable Object that re-sends each frame to every
 * socket) in the same run, alternating systems run by run, and the median of each. The quick A/B behind
 * each change in docs/benchmarks.md. Server CPU per delivery is read from /proc (the servers' own CPU
 * time, which other load on the machine moves less than wall-clock figures; bench:instructions is the
 * load-proof count). Systems: `bare`, `bare-assets` (the bare object with static assets configured as
 * edgechat's wrangler.jsonc has them), `edgechat` (one frame per message), `edgechat-batch` (subscribers
 * that negotiated batching with `?since=0&batch=1`; `--batch` turns `edgechat` into it). `--body N`:
 * N-byte message bodies (200). `--persist`: the bare object INSERTs each frame into its SQLite before the
 * broadcast. `--perf`: perf recordings of the runtime over each measured window (bench/results/perf/).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FanoutResult } from "./lib/report.ts";
import { fanout } from "./scenarios/fanout.ts";
import { type BareRoomSystem, startBareRoom } from "./servers/bare-room.ts";
import { type EdgechatSystem, pinLoadGenerator, seedRoom, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const positional = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.match(/^--(runs|seconds|systems|body)$/));
const subscribers = Number(positional[0] ?? 1000);
const rate = Number(positional[1] ?? 10);
const runs = Number(option("runs", "3"));
const seconds = Number(option("seconds", "10"));
const systems = option("systems", "bare,edgechat").split(",");
const batch = flag("batch");
const persist = flag("persist");
/** `--perf`: record the runtime's native and JIT stacks (perf, cpu-clock) over each measured window. */
const perf = flag("perf");
const log = (line: string) => console.error(`[bench:fanout] ${line}`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** The machine's 1, 5 and 15-minute load averages: how busy the other core was while this ran. */
function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** perf record of `pids` over the measured window, into bench/results/perf/<name>.data. */
function perfAround(name: string, pids: () => number[]) {
  let child: ReturnType<typeof spawn> | null = null;
  const data = path.join(ROOT, "bench/results/perf", `${name}.data`);
  return {
    start() {
      mkdirSync(path.dirname(data), { recursive: true });
      child = spawn("perf", ["record", "-e", "cpu-clock", "-F", "999", "-g", "-o", data, "-p", pids().join(",")], {
        stdio: "ignore",
      });
    },
    async stop() {
      if (!child) return;
      const done = new Promise((r) => child?.once("exit", r));
      child.kill("SIGINT");
      await done;
      log(`perf: ${data}`);
    },
  };
}

async function main() {
  pinLoadGenerator();
  const plan = { rate, seconds, threads: 2, bodyBytes: Number(option("body", "200")), warmSeconds: 2 };
  const bare: BareRoomSystem | null = systems.includes("bare") ? await startBareRoom() : null;
  const bareAssets: BareRoomSystem | null = systems.includes("bare-assets")
    ? await startBareRoom({ assets: true })
    : null;
  // "edgechat": one frame per message (protocol 1 subscribers); "edgechat-batch": protocol 2 subscribers
  // that negotiated batching. `--batch` is the same as naming edgechat-batch instead of edgechat.
  const edgeModes = [
    ...(systems.includes("edgechat") && !batch ? [false] : []),
    ...(systems.includes("edgechat-batch") || (batch && systems.includes("edgechat")) ? [true] : []),
  ];
  const edge: EdgechatSystem | null =
    edgeModes.length > 0 ? await startEdgechat(path.join(ROOT, "bench/results/edgechat-dev.log")) : null;
  const results: Record<string, FanoutResult[]> = {};
  const keep = (r: FanoutResult) => {
    results[r.system] = [...(results[r.system] ?? []), r];
    log(
      `${r.system}: p50 ${r.delivery.p50} p99 ${r.delivery.p99} ms, delivered ${r.deliveredRatio}, CPU/delivery ${r.serverCpuUsPerDelivery} µs (runtime ${r.runtimeCpuUsPerDelivery}), frames ${r.frames}, load ${loadAverage()}`,
    );
  };
  try {
    for (let i = 0; i < runs; i++) {
      for (const b of [bare, bareAssets]) {
        if (!b) continue;
        const spec = { url: b.url(`fan-${i}-${Date.now()}`, { persist }), headers: {} };
        const name = b === bare ? "bare" : "bare-assets";
        const around = perf ? perfAround(`${name}-${subscribers}x${rate}-${i}`, () => b.runtimePids()) : undefined;
        const sockets = Array.from({ length: subscribers }, () => spec);
        keep(await fanout(b, sockets, spec, { ...plan, around }));
      }
      for (const batched of edge ? edgeModes : []) {
        if (!edge) break;
        const room = await seedRoom(edge, subscribers, edge.directPort);
        // Batching is negotiated by protocol 2 sockets only: a fresh room, so since=0 catches up on little.
        const subs = batched
          ? room.subscribers.map((s) => ({ ...s, url: `${s.url}?since=0&batch=1` }))
          : room.subscribers;
        const name = `edgechat-${subscribers}x${rate}${batched ? "-batch" : ""}-${i}`;
        const around = perf ? perfAround(name, () => edge.runtimePids()) : undefined;
        const r = await fanout(edge, subs, room.sender, { ...plan, around });
        keep({ ...r, system: `edgechat${batched ? " (batch)" : ""}` });
      }
    }
  } finally {
    await bare?.stop();
    await bareAssets?.stop();
    await edge?.stop();
  }
  const summary = Object.entries(results).map(([system, rs]) => ({
    system,
    runs: rs.length,
    p50: median(rs.map((r) => r.delivery.p50)),
    p99: median(rs.map((r) => r.delivery.p99)),
    delivered: Math.min(...rs.map((r) => r.deliveredRatio)),
    cpuUs: median(rs.map((r) => r.serverCpuUsPerDelivery)),
    runtimeCpuUs: median(rs.map((r) => r.runtimeCpuUsPerDelivery ?? 0)),
    connectP99: median(rs.map((r) => r.connect?.p99 ?? 0)),
    framesPerDelivery: median(rs.map((r) => (r.frames ?? 0) / Math.max(1, r.delivery.count))),
  }));
  const base = summary.find((s) => s.system === "bare DO");
  console.log(
    `\n${subscribers} subscribers × ${rate} msg/s, ${seconds} s, medians of ${runs} (load average at the end: ${loadAverage()})\n`,
  );
  console.log(
    "| system | p50 ms | p99 ms | delivered | CPU µs/delivery (all) | runtime only | frames/delivery | × bare CPU | × bare p99 |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const s of summary) {
    const x = (a: number, b: number | undefined) => (b ? (Math.round((a / b) * 100) / 100).toString() : "-");
    console.log(
      `| ${s.system} | ${s.p50} | ${s.p99} | ${s.delivered} | ${s.cpuUs} | ${s.runtimeCpuUs} | ${Math.round(s.framesPerDelivery * 100) / 100} | ${x(s.runtimeCpuUs, base?.runtimeCpuUs)} | ${x(s.p99, base?.p99)} |`,
    );
  }
  const out = path.join(ROOT, "bench/results", `fanout-${subscribers}x${rate}.json`);
  writeFileSync(
    out,
    `${JSON.stringify({ at: new Date().toISOString(), subscribers, rate, seconds, runs, summary, results }, null, 2)}\n`,
  );
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
