/**
 * bench:memory's floor: bench/servers/bare-room (one Durable Object that accepts every socket with the
 * Hibernation API and does nothing else) under the same `wrangler dev` as edgechat. What edgechat's room
 * costs per idle socket above this is edgechat's; the rest is workerd's own.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stopGroup } from "../../scripts/local-stack/dev-server.ts";
import { freePort } from "../../scripts/local-stack/ports.ts";
import { offlineWranglerEnv } from "../../scripts/local-stack/wrangler-env.ts";
import { pidsMatching, processTree } from "../lib/proc.ts";
import { findDirectPort } from "./systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export async function startBareRoom() {
  const port = await freePort();
  const state = mkdtempSync(path.join("/dev/shm", "bare-room-"));
  const wrangler = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const config = path.join(ROOT, "bench/servers/bare-room/wrangler.jsonc");
  const args = [wrangler, "dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state];
  const child = spawn(process.execPath, [...args, "--show-interactive-dev-session=false"], {
    env: { ...process.env, ...offlineWranglerEnv() },
    detached: true,
    stdio: "ignore",
  });
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("bare room did not start");
    await new Promise((r) => setTimeout(r, 250));
  }
  const direct = await findDirectPort(child.pid as number, "bare-room");
  return {
    url: `ws://127.0.0.1:${direct}/`,
    runtimePids: () => processTree([child.pid as number]).filter((pid) => pidsMatching(/workerd/).includes(pid)),
    stop: async () => {
      await stopGroup(child);
      rmSync(state, { recursive: true, force: true });
    },
  };
}
