/**
 * `npm run bench:instructions -- [subscribers] [messages] [--systems bare,bare-assets,edgechat] [--batch]
 * [--body N]`:
 * instructions the worker runtime executes per delivery, counted by valgrind's callgrind. Wall-clock and
 * CPU-time figures move with whatever else the machine runs; an instruction count does not, so this is
 * the figure to compare changes by on a busy machine. Each system's workerd runs under callgrind with
 * instrumentation off (the runtime is then only slowed down, not measured); the measured window is opened
 * with `callgrind_control --instr=on` once the subscribers are connected and warmed up, `messages` are
 * sent at a slow rate, and the window is dumped once every subscriber has them all. Prints instructions
 * per delivery (and the top functions by inclusive count, from callgrind_annotate) and writes
 * bench/results/instructions-<subscribers>.json.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Sender, Subscribers } from "./load/clients.ts";
import type { SocketSpec } from "./load/subscribers.ts";
import { startBareRoom } from "./servers/bare-room.ts";
import { type RunningSystem, seedRoom, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const positional = argv.filter((a, i) => !a.startsWith("--") && !/^--(systems|body)$/.test(argv[i - 1] ?? ""));
const bodyBytes = Number(option("body", "200"));
const subscribers = Number(positional[0] ?? 100);
const messages = Number(positional[1] ?? 20);
const systems = option("systems", "bare,bare-assets,edgechat").split(",");
const batch = argv.includes("--batch");
const log = (line: string) => console.error(`[bench:instructions] ${line}`);

const OUT = path.join("/tmp", `edgechat-callgrind-${process.pid}`);
const WORKERD = path.join(ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

/** A stand-in for the workerd binary that runs it under callgrind, instrumentation off until asked. */
function wrapper(): string {
  mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, "workerd-callgrind.sh");
  writeFileSync(
    file,
    `#!/bin/sh\nexec valgrind --tool=callgrind --smc-check=all-non-file --instr-atstart=no --callgrind-out-file=${OUT}/callgrind.out.%p ${WORKERD} "$@"\n`,
  );
  chmodSync(file, 0o755);
  return file;
}

function control(pid: number, ...args: string[]): string {
  return execFileSync("callgrind_control", [...args, String(pid)], { encoding: "utf8" });
}

/** Total instructions (Ir) in the dump files callgrind wrote for `pid` since `after` existed. */
function dumpedInstructions(pid: number, before: Set<string>): { ir: number; files: string[] } {
  const files = readdirSync(OUT)
    .filter((f) => f.startsWith(`callgrind.out.${pid}`) && !before.has(f))
    .map((f) => path.join(OUT, f));
  let ir = 0;
  for (const file of files) {
    const summary = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, "utf8"));
    ir += Number(summary?.[1] ?? 0);
  }
  return { ir, files };
}

function topFunctions(files: string[], n = 25): string {
  if (files.length === 0) return "";
  try {
    return execFileSync("callgrind_annotate", ["--inclusive=no", "--threshold=95", ...files], {
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    })
      .split("\n")
      .filter((l) => /^\s*[\d,]+ \(/.test(l))
      .slice(0, n)
      .map((l) => l.replace(/\s*\[[^\]]*\]$/, "").slice(0, 160))
      .join("\n");
  } catch {
    return "";
  }
}

async function measure(sys: RunningSystem, sockets: SocketSpec[], sender: SocketSpec) {
  const [pid] = sys.runtimePids();
  if (!pid) throw new Error(`${sys.name}: no runtime process`);
  const subs = new Subscribers(sockets, 2);
  const { connected } = await subs.ready;
  const send = new Sender(sender);
  await send.opened;
  // Warm up (JIT, first-use paths), slowly: the runtime runs several times slower under valgrind.
  await send.run({ rate: 2, seconds: 3, bodyBytes, idPrefix: `warm-${Date.now()}`, settleMs: 5000 });
  const before = new Set(readdirSync(OUT));
  control(pid, "--instr=on");
  control(pid, "--zero");
  const idPrefix = `ir-${Date.now()}`;
  await subs.start(idPrefix);
  const run = await send.run({ rate: 2, seconds: messages / 2, bodyBytes, idPrefix, settleMs: 1000 });
  // Wait until every subscriber has every message (the window must hold the whole of each delivery).
  const expected = run.sent * connected;
  let got = await subs.stop();
  for (let i = 0; i < 120 && got.delivered < expected; i++) {
    await subs.start(idPrefix);
    await new Promise((r) => setTimeout(r, 1000));
    const more = await subs.stop();
    got = { ...more, delivered: got.delivered + more.delivered, frames: got.frames + more.frames };
  }
  control(pid, "--dump=window");
  control(pid, "--instr=off");
  const { ir, files } = dumpedInstructions(pid, before);
  send.close();
  await subs.close();
  return {
    system: sys.name,
    subscribers: connected,
    messages: run.sent,
    delivered: got.delivered,
    frames: got.frames,
    instructions: ir,
    perDelivery: got.delivered ? Math.round(ir / got.delivered) : 0,
    top: topFunctions(files),
  };
}

async function main() {
  const env = { MINIFLARE_WORKERD_PATH: wrapper() };
  const results = [];
  try {
    for (const name of systems) {
      if (name === "bare" || name === "bare-assets") {
        log(`${name}: starting under callgrind (slow)`);
        const b = await startBareRoom({ assets: name === "bare-assets", env, timeoutMs: 600_000 });
        try {
          const spec = { url: b.url(`ir-${Date.now()}`), headers: {} };
          results.push(
            await measure(
              b,
              Array.from({ length: subscribers }, () => spec),
              spec,
            ),
          );
        } finally {
          await b.stop();
        }
      } else if (name === "edgechat") {
        log("edgechat: starting under callgrind (slow)");
        const edge = await startEdgechat(path.join(ROOT, "bench/results/edgechat-dev.log"), env, {
          timeoutMs: 600_000,
        });
        try {
          const room = await seedRoom(edge, subscribers, edge.directPort);
          const subs = batch
            ? room.subscribers.map((s) => ({ ...s, url: `${s.url}?since=0&batch=1` }))
            : room.subscribers;
          results.push({ ...(await measure(edge, subs, room.sender)), system: `edgechat${batch ? " (batch)" : ""}` });
        } finally {
          await edge.stop();
        }
      }
      const r = results.at(-1);
      if (r) log(`${r.system}: ${r.perDelivery} instructions per delivery (${r.delivered} deliveries)`);
    }
  } finally {
    rmSync(OUT, { recursive: true, force: true });
  }
  const base = results.find((r) => r.system === "bare DO");
  console.log(
    `\n${subscribers} subscribers, ${messages} messages of ${bodyBytes}-byte bodies; instructions of the worker runtime per delivery\n`,
  );
  console.log("| system | deliveries | frames | instructions / delivery | × bare |");
  console.log("|---|---|---|---|---|");
  for (const r of results) {
    const x = base ? Math.round((r.perDelivery / base.perDelivery) * 100) / 100 : "-";
    console.log(`| ${r.system} | ${r.delivered} | ${r.frames} | ${r.perDelivery} | ${x} |`);
  }
  for (const r of results) console.log(`\n${r.system}, instructions by function (self):\n${r.top}`);
  writeFileSync(
    path.join(
      ROOT,
      "bench/results",
      `instructions-${subscribers}${batch ? "-batch" : ""}${bodyBytes !== 200 ? `-body${bodyBytes}` : ""}.json`,
    ),
    `${JSON.stringify({ at: new Date().toISOString(), subscribers, messages, results }, null, 2)}\n`,
  );
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
