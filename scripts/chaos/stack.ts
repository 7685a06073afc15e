/**
 * `npm run dev` (scripts/dev.ts) pointed at the run's own Postgres and Redis, on fixed ports and a fixed
 * wrangler persistence folder, so that after a kill it comes back as the same deployment: same rooms'
 * SQLite, same keys (tokens stay valid), same URL for the clients.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevSecrets } from "../local-stack/dev-secrets.ts";
import { freePort, isPortOpen } from "../local-stack/ports.ts";
import { killTree, onExitKill, sleep, waitFor } from "./procs.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface StackConfig {
  databaseUrl: string;
  redisUrl: string;
  persistDir: string;
  logFile: string;
  port?: number;
  env?: Record<string, string>;
}

export interface ChaosStack {
  baseUrl: string;
  port: number;
  /** Times npm run dev ended without us killing it (it was restarted each time). */
  readonly unplannedExits: number;
  /** SIGKILL of dev.ts and everything under it: no shutdown handler runs. */
  kill(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function portOrFree(wanted: number | undefined): Promise<number> {
  if (wanted && !(await isPortOpen("127.0.0.1", wanted))) return wanted;
  return freePort();
}

export async function createStack(cfg: StackConfig): Promise<ChaosStack> {
  const port = await portOrFree(cfg.port);
  const neonPort = await portOrFree(cfg.port ? cfg.port + 3 : undefined);
  const upstashPort = await portOrFree(cfg.port ? cfg.port + 4 : undefined);
  const secrets = generateDevSecrets();
  const log: WriteStream = createWriteStream(cfg.logFile, { flags: "a" });
  const baseUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let unregister = () => {};

  let unplannedExits = 0;
  let starting: Promise<void> | null = null;
  let closing = false;

  const spawnOnce = async (): Promise<boolean> => {
    log.write(`\n[chaos] starting npm run dev at ${new Date().toISOString()}\n`);
    const p = spawn(process.execPath, [path.join(ROOT, "scripts/dev.ts")], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...secrets,
        ...cfg.env,
        DATABASE_URL: cfg.databaseUrl,
        REDIS_URL: cfg.redisUrl,
        PORT: String(port),
        NEON_PROXY_PORT: String(neonPort),
        UPSTASH_BRIDGE_PORT: String(upstashPort),
        DEV_PERSIST_DIR: cfg.persistDir,
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    p.stdout?.pipe(log, { end: false });
    p.stderr?.pipe(log, { end: false });
    child = p;
    const pid = p.pid as number;
    unregister = onExitKill(() => killTree(pid));
    // dev.ts stops everything when wrangler dies (issue 22 #1: a storm of upgrades can do it); until it
    // restarts wrangler itself, we restart the whole of it and count how often that was needed.
    p.once("exit", () => {
      if (child !== p || closing) return;
      unplannedExits++;
      log.write(`\n[chaos] npm run dev exited by itself; restarting it\n`);
      killTree(pid);
      child = null;
      void start().catch((e: Error) => log.write(`[chaos] restart failed: ${e.message}\n`));
    });
    return waitFor(
      async () => {
        if (p.exitCode !== null || p.signalCode !== null) return true; // judged below
        return (await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(10_000) })).ok;
      },
      120_000,
      500,
    ).then((ok) => ok && child === p && p.exitCode === null);
  };

  const start = (): Promise<void> => {
    starting ??= (async () => {
      try {
        for (let attempt = 1; attempt <= 3; attempt++) {
          if (child) return; // the exit handler may have raced us
          if (await spawnOnce()) return;
          if (child) await kill();
        }
        throw new Error(`npm run dev did not become healthy in 3 tries; see ${cfg.logFile}`);
      } finally {
        starting = null;
      }
    })();
    return starting;
  };

  const kill = async () => {
    const p = child;
    if (!p?.pid) return;
    child = null;
    killTree(p.pid);
    if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once("exit", r));
    unregister();
    // workerd's sockets must be gone before the next one binds the same ports.
    await waitFor(async () => !(await isPortOpen("127.0.0.1", port, 200)), 10_000, 100);
    await sleep(200);
  };

  return {
    baseUrl,
    port,
    get unplannedExits() {
      return unplannedExits;
    },
    start,
    kill,
    close: async () => {
      closing = true;
      await starting?.catch(() => {});
      await kill();
      log.end();
    },
  };
}
