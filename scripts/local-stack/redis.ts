import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { freePort, isPortOpen } from "./ports.ts";

export interface RedisHandle {
  url: string;
  source: "REDIS_URL" | "local server" | "redis-server";
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Port probed for a local server; tests point it elsewhere to reach the fallbacks. */
  localPort?: number;
  /** The redis-server binary to start when nothing answers. */
  bin?: string;
}

/** REDIS_URL if set; else 127.0.0.1:6379; else a redis-server from PATH on a free port; else null (buffer off). */
export async function resolveRedis(opts: RedisOptions = {}): Promise<RedisHandle | null> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, source: "REDIS_URL", stop: async () => {} };
  const localPort = opts.localPort ?? 6379;
  if (await isPortOpen("127.0.0.1", localPort)) {
    return { url: `redis://127.0.0.1:${localPort}`, source: "local server", stop: async () => {} };
  }
  const bin = opts.bin ?? "redis-server";
  if (spawnSync(bin, ["--version"], { stdio: "ignore" }).status !== 0) return null;
  const port = await freePort();
  // Own process group: Ctrl-C in the terminal must not kill it before we stop it in order.
  const child = spawn(bin, ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
    detached: true,
  });
  await waitForPort(port, child);
  return {
    url: `redis://127.0.0.1:${port}`,
    source: "redis-server",
    stop: () => stopChild(child),
  };
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await isPortOpen("127.0.0.1", port, 100)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error(`redis-server did not open port ${port} within 5 s`);
}

function stopChild(child: ChildProcess): Promise<void> {
  // Already gone, by exiting or by a signal (Ctrl-C reaches the whole foreground group).
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
