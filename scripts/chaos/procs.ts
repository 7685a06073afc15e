/**
 * Every process the chaos run starts is registered here, so that whatever ends the run (done, a failed
 * check, an exception, Ctrl-C) none of them outlives it: Postgres, Redis and the dev stack run in their
 * own process groups, where a terminal's Ctrl-C does not reach them.
 */
import { readdirSync, readFileSync } from "node:fs";

type Killer = () => void;
const killers = new Set<Killer>();

/** Registers a synchronous last-resort kill; returns its removal. */
export function onExitKill(kill: Killer): () => void {
  killers.add(kill);
  return () => killers.delete(kill);
}

function killAll(): void {
  for (const k of killers) {
    try {
      k();
    } catch {
      // already gone
    }
  }
  killers.clear();
}

let installed = false;
export function installExitHandlers(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      console.error(`[chaos] ${sig}: stopping everything`);
      killAll();
      process.exit(130);
    });
  }
}

export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** pid → [ppid, pgid] for every process, read from /proc (Linux only, which is what dev runs on). */
function processTable(): Map<number, [number, number]> {
  const table = new Map<number, [number, number]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name may hold spaces and parentheses; the fields after its closing ")" do not.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(name), [Number(fields[1]), Number(fields[2])]);
    } catch {
      // exited while we looked
    }
  }
  return table;
}

/**
 * SIGKILLs a process, its descendants and their process groups. dev.ts puts wrangler (and workerd) in a
 * group of its own, so killing dev.ts's group alone would leave the worker running and its port taken.
 */
export function killTree(root: number): void {
  const table = processTable();
  const pids = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, [ppid]] of table) {
      if (pids.has(ppid) && !pids.has(pid)) {
        pids.add(pid);
        grew = true;
      }
    }
  }
  // Never our own group: that would take this runner (and the terminal's job) down with it.
  const own = table.get(process.pid)?.[1];
  const groups = new Set([...pids].map((p) => table.get(p)?.[1]).filter((g): g is number => !!g && g > 1 && g !== own));
  for (const g of groups) signal(-g, "SIGKILL");
  for (const p of pids) signal(p, "SIGKILL");
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
