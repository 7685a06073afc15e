/**
 * `npm run bench:profile -- [fanout|write|history] [subscribers] [rate]`: a CPU profile of the worker
 * runtime (worker + room objects) taken through workerd's inspector, while one room fans out (default),
 * while one sender writes into a room with no subscribers (the write path), or while autocannon reads a
 * room's latest history page (REST). Prints the functions with the most
 * self time, the CPU of every server process per message, and writes bench/results/<mode>.cpuprofile
 * (open it in Chrome DevTools).
 */
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { cdp, inspectorUrl } from "./lib/inspector.ts";
import { breakdown, processTree, snapshot } from "./lib/proc.ts";
import { Sender, Subscribers } from "./load/clients.ts";
import { seedRoom, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const MODES = ["fanout", "write", "history"] as const;
const mode = MODES.find((m) => m === args[0]) ?? "fanout";
if (MODES.some((m) => m === args[0])) args.shift();
const subscribers = Number(args[0] ?? (mode === "fanout" ? 1000 : 0));
const rate = Number(args[1] ?? (mode === "write" ? 100 : 10));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function startPerf(pids: number[]) {
  const data = path.join(ROOT, "bench/results/perf.data");
  const child = spawn("perf", ["record", "-F", "999", "-g", "-o", data, "-p", pids.join(",")], { stdio: "ignore" });
  return {
    async stop() {
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
      const report = execFileSync(
        "perf",
        ["report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym", "--percent-limit", "0.5", "-g", "none"],
        { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      );
      writeFileSync(path.join(ROOT, `bench/results/${mode}.perf.txt`), report);
      // Inclusive shares of the runtime's entry points: which kind of work (socket events, SQLite,
      // outbound fetches, tail streams) the CPU goes to.
      const inclusive = execFileSync(
        "perf",
        ["report", "-i", data, "--stdio", "--children", "--sort", "sym", "-g", "none", "--percent-limit", "2"],
        { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      );
      const entries =
        /workerd::api::(HibernatableWebSocketCustomEvent::run|SqlStorage::exec|\(anonymous namespace\)::fetchImplNoOutputLock|JsRpcTargetBase::callImpl)|TailStreamTarget::report|WebSocket::send|sqlite3_step/;
      const seen = new Set<string>();
      console.log("\nRuntime CPU by entry point (perf, inclusive):");
      for (const line of inclusive.split("\n")) {
        const name = entries.exec(line)?.[0];
        if (!name || seen.has(name)) continue;
        seen.add(name);
        console.log(`${line.trim().split(/\s+/)[0]?.padStart(8)}  ${name}`);
      }
    },
  };
}

async function main() {
  const edge = await startEdgechat(path.join(ROOT, "bench/results/edgechat-dev.log"));
  try {
    const runtime = processTree(edge.pids()).filter((pid) => edge.runtimePids().includes(pid));
    const session = cdp(await inspectorUrl(runtime.length ? runtime : edge.runtimePids()));
    await session.opened;
    const seeded = await seedRoom(edge, subscribers, edge.directPort);
    const subs = new Subscribers(seeded.subscribers, 2);
    await subs.ready;
    const sender = new Sender(seeded.sender);
    await sender.opened;
    await sender.run({ rate, seconds: 1, bodyBytes: 200, idPrefix: "warm", settleMs: 500 });
    // History: 600 messages (more than the Redis buffer holds), then the latest page under autocannon.
    if (mode === "history") await sender.run({ rate: 300, seconds: 2, bodyBytes: 200, idPrefix: "hist" });
    const pageUrl = `http://127.0.0.1:${edge.directPort}/api/rooms/${seeded.room}/messages?limit=50`;
    const work =
      mode === "history"
        ? async () => {
            const r = await autocannon({ url: pageUrl, headers: seeded.sender.headers, connections: 10, duration: 8 });
            return {
              done: r.requests.total,
              what: `${r.requests.total} requests (${r.non2xx} non-2xx)`,
              unit: "request",
            };
          }
        : async () => {
            const run = await sender.run({ rate, seconds: 8, bodyBytes: 200, idPrefix: "prof" });
            return { done: run.sent, what: `${run.acked}/${run.sent} acked`, unit: "message" };
          };
    // PROFILE=0 measures the same run's CPU per process without the profiler's own overhead.
    const profiling = process.env.PROFILE !== "0";
    if (profiling) {
      await session.call("Profiler.enable");
      await session.call("Profiler.start");
    }
    await subs.start();
    // PERF=1 also samples the runtime's native side (SQLite, HTTP, WebSocket I/O), which the JS profile
    // cannot see: bench/results/<mode>.perf.txt.
    const perf = process.env.PERF === "1" ? startPerf(runtime.length ? runtime : edge.runtimePids()) : null;
    const before = snapshot(edge.pids());
    const run = await work();
    const cpu = breakdown(before, edge.pids());
    if (perf) await perf.stop();
    const { profile } = profiling
      ? ((await session.call("Profiler.stop")) as { profile: Profile })
      : { profile: { nodes: [], samples: [], timeDeltas: [] } };
    await subs.stop();
    sender.close();
    await subs.close();
    session.close();
    if (profiling) writeFileSync(path.join(ROOT, `bench/results/${mode}.cpuprofile`), JSON.stringify(profile));
    console.log(`\nServer CPU per ${run.unit} by process (µs), ${run.what}:`);
    for (const [name, ms] of Object.entries(cpu).filter(([, ms]) => ms > 0))
      console.log(`${String(Math.round((ms * 1000) / Math.max(1, run.done))).padStart(8)}  ${name}`);
    const self = new Map<number, number>();
    for (const [i, node] of profile.samples.entries())
      self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
    const byFunction = new Map<string, number>();
    let total = 0;
    for (const node of profile.nodes) {
      const us = self.get(node.id) ?? 0;
      total += us;
      const f = node.callFrame;
      const where = f.url ? `${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}` : "";
      const key = `${f.functionName || "(anonymous)"} ${where}`.trim();
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    }
    console.log(
      `\nCPU profile of the worker runtime (${mode}), ${subscribers} subscribers × ${rate} msg/s for 8 s (self time):`,
    );
    for (const [name, us] of [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
    }
  } finally {
    await edge.stop();
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
