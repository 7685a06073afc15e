/** CPU time and memory of process trees, read from /proc (Linux). */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function stat(pid: number): { ppid: number; cpuTicks: number; rssPages: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return {
      ppid: Number(fields[1]),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      rssPages: Number(fields[21]),
    };
  } catch {
    return null;
  }
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** The pids of `roots` and all their descendants. */
export function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = stat(pid);
    if (!s) continue;
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Pids whose command line contains `needle` (e.g. the machine's postgres and redis-server). */
export function pidsMatching(needle: RegExp): number[] {
  return allPids().filter((pid) => {
    try {
      return needle.test(readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "));
    } catch {
      return false;
    }
  });
}

export interface Usage {
  cpuMs: number;
  rssBytes: number;
}

export function usage(pids: number[]): Usage {
  let ticks = 0;
  let pages = 0;
  for (const pid of pids) {
    const s = stat(pid);
    if (!s) continue;
    ticks += s.cpuTicks;
    pages += s.rssPages;
  }
  return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, rssBytes: pages * 4096 };
}

/**
 * CPU of a set of processes over a span: call `start()` then `stop()`. Counted per process, so a process
 * that exits during the span (a Postgres backend of a closed connection) does not subtract what it used
 * before the span, and one that starts during it counts whole.
 */
export function cpuMeter(pids: () => number[]) {
  let before = new Map<number, number>();
  return {
    start() {
      before = snapshot(pids());
    },
    stop(): number {
      let ms = 0;
      for (const pid of new Set(pids())) ms += usage([pid]).cpuMs - (before.get(pid) ?? 0);
      return ms;
    },
  };
}

/** A process's short name (workerd, node, postgres, redis-server) for CPU breakdowns. */
export function processName(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    // Postgres backends rewrite their title ("postgres: 15/main: …"), so look before splitting on "/".
    if ((cmd[0] ?? "").startsWith("postgres") || (cmd[0] ?? "").includes("/postgresql/")) return "postgres";
    const exe = (cmd[0] ?? "").split("/").at(-1) ?? "";
    if (exe === "workerd")
      return cmd.some((a) => a.startsWith("--inspector-addr"))
        ? "workerd (worker + rooms)"
        : "workerd (wrangler dev proxy)";
    if (exe.startsWith("redis-server")) return "redis-server";
    if (exe === "node" && cmd.some((a) => a.includes("wrangler"))) return "wrangler (node)";
    if (exe === "node" && cmd.some((a) => a.includes("dev.ts"))) return "dev stack + bridges (node)";
    return exe || "?";
  } catch {
    return "?";
  }
}

/** CPU ms per process name between two snapshots taken with `snapshot()`. */
export function snapshot(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, usage([pid]).cpuMs]));
}

export function breakdown(before: Map<number, number>, pids: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) {
    const name = processName(pid);
    const delta = usage([pid]).cpuMs - (before.get(pid) ?? 0);
    out[name] = (out[name] ?? 0) + delta;
  }
  return out;
}
