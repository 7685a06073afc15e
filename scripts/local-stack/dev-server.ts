/**
 * Runs `npm run dev` (scripts/dev.ts) on spare ports with its own database, in its own process group,
 * and waits until the worker answers /health. Used by the end-to-end tests and the benchmarks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevSecrets } from "./dev-secrets.ts";
import { freePort } from "./ports.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface DevServer {
  port: number;
  pid: number;
  database: string;
  secrets: Record<string, string>;
  stop(): Promise<void>;
}

export async function startDevServer(opts: {
  database: string;
  logFile: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run pinned to these CPUs (taskset -c), e.g. for benchmarks. */
  cpus?: string | undefined;
}): Promise<DevServer> {
  const port = await freePort();
  const secrets = generateDevSecrets();
  const argv = [process.execPath, path.join(ROOT, "scripts/dev.ts")];
  const [cmd, ...args] = opts.cpus ? ["taskset", "-c", opts.cpus, ...argv] : argv;
  const child = spawn(cmd as string, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...secrets,
      PORT: String(port),
      NEON_PROXY_PORT: String(await freePort()),
      UPSTASH_BRIDGE_PORT: String(await freePort()),
      PGDATABASE_DEV: opts.database,
      ...opts.env,
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(opts.logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited (${child.exitCode}); see ${opts.logFile}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`edgechat did not become healthy in time; see ${opts.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port, pid: child.pid as number, database: opts.database, secrets, stop: () => stopGroup(child) };
}

/** SIGINT to the group (dev.ts stops its stack cleanly), SIGKILL if it has not gone in 8 s. */
export function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || !child.pid) return Promise.resolve();
  const done = once(child, "exit").then(() => undefined);
  try {
    process.kill(-child.pid, "SIGINT");
  } catch {
    return Promise.resolve();
  }
  const force = setTimeout(() => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {}
  }, 8000);
  return done.finally(() => clearTimeout(force));
}
