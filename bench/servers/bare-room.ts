/**
 * The platform's floor: bench/servers/bare-room, hibernating Durable Objects that accept sockets and
 * re-send each frame to all of them, nothing else, under the same `wrangler dev` (and so the same workerd)
 * as edgechat, pinned to the servers' core. Clients connect straight to the worker runtime's own port, as
 * edgechat's "runtime only" figures do. What edgechat costs above this is edgechat's; the rest is workerd's.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stopGroup } from "../../scripts/local-stack/dev-server.ts";
import { freePort } from "../../scripts/local-stack/ports.ts";
import { offlineWranglerEnv } from "../../scripts/local-stack/wrangler-env.ts";
import { processTree } from "../lib/proc.ts";
import { findDirectPort, hasTaskset, type RunningSystem, SERVER_CPUS, workerRuntime } from "./systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface BareRoomSystem extends RunningSystem {
  /** The runtime's own port (no wrangler dev proxy in front). */
  directPort: number;
  /** A socket URL for room `name` (`persist`: INSERT each frame into SQLite before the broadcast). */
  url(name: string, o?: { persist?: boolean }): string;
  /** Kept for bench:memory: the default room. */
  url0: string;
}

/** `assets`: the same object behind static assets with run_worker_first, as edgechat is configured. */
export async function startBareRoom(
  o: { assets?: boolean; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<BareRoomSystem> {
  const port = await freePort();
  const state = mkdtempSync(path.join("/dev/shm", "bare-room-"));
  const wrangler = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const config = path.join(ROOT, `bench/servers/bare-room/${o.assets ? "wrangler-assets" : "wrangler"}.jsonc`);
  const args = [wrangler, "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state];
  const argv = [process.execPath, ...args, "--show-interactive-dev-session=false"];
  const [cmd, ...rest] = hasTaskset() ? ["taskset", "-c", SERVER_CPUS, ...argv] : argv;
  const child = spawn(cmd as string, rest, {
    env: { ...process.env, ...offlineWranglerEnv(), ...o.env },
    detached: true,
    stdio: "ignore",
  });
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (
    !(await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("bare room did not start");
    await new Promise((r) => setTimeout(r, 250));
  }
  const direct = await findDirectPort(child.pid as number, "bare-room", o.timeoutMs ? 60_000 : 2000);
  const root = child.pid as number;
  const url = (name: string, o: { persist?: boolean } = {}) =>
    `ws://127.0.0.1:${direct}/?room=${encodeURIComponent(name)}${o.persist ? "&persist=1" : ""}`;
  return {
    name: o.assets ? "bare DO + assets" : "bare DO",
    directPort: direct,
    url,
    url0: `ws://127.0.0.1:${direct}/`,
    pids: () => processTree([root]),
    runtimePids: () => workerRuntime(root),
    stop: async () => {
      await stopGroup(child);
      rmSync(state, { recursive: true, force: true });
    },
  };
}
