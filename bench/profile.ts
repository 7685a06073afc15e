/**
 * `npm run bench:profile`: a CPU profile of the worker runtime (worker + room objects) while one room
 * fans out, taken through workerd's inspector. Prints the functions with the most self time and writes
 * bench/results/fanout.cpuprofile (open it in Chrome DevTools).
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { processTree } from "./lib/proc.ts";
import { Sender, Subscribers } from "./load/clients.ts";
import { seedRoom, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const subscribers = Number(process.argv[2] ?? 1000);
const rate = Number(process.argv[3] ?? 10);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function inspectorUrl(runtimePids: number[]): Promise<string> {
  const listing = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  for (const line of listing.split("\n")) {
    if (!runtimePids.some((pid) => line.includes(`pid=${pid},`))) continue;
    const port = /127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    const targets = await fetch(`http://127.0.0.1:${port}/json/list`).then(
      (r) => (r.ok ? (r.json() as Promise<{ webSocketDebuggerUrl?: string; id: string }[]>) : []),
      () => [],
    );
    const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
    if (target) return target.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${target.id}`;
  }
  throw new Error("no inspector found on the worker runtime");
}

function cdp(url: string) {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map<number, (r: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  return {
    opened: new Promise<void>((r) => ws.once("open", () => r())),
    call: (method: string, params: object = {}) =>
      new Promise<unknown>((resolve) => {
        const n = ++id;
        pending.set(n, resolve);
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
    close: () => ws.close(),
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
    await session.call("Profiler.enable");
    await session.call("Profiler.start");
    await subs.start();
    await sender.run({ rate, seconds: 8, bodyBytes: 200, idPrefix: "prof" });
    const { profile } = (await session.call("Profiler.stop")) as { profile: Profile };
    await subs.stop();
    sender.close();
    await subs.close();
    session.close();
    writeFileSync(path.join(ROOT, "bench/results/fanout.cpuprofile"), JSON.stringify(profile));
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
    console.log(`\nCPU profile of the worker runtime, ${subscribers} subscribers × ${rate} msg/s for 8 s (self time):`);
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
