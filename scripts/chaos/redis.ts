/** The run's own redis-server on a spare port, which the faults pause (SIGSTOP) and wipe (FLUSHALL). */
import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { freePort, isPortOpen } from "../local-stack/ports.ts";
import { onExitKill, signal, waitFor } from "./procs.ts";

export interface ChaosRedis {
  url: string;
  pause(): void;
  resume(): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(): Promise<ChaosRedis> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  const pid = child.pid as number;
  const unregister = onExitKill(() => signal(pid, "SIGKILL"));
  if (!(await waitFor(() => isPortOpen("127.0.0.1", port, 200), 10_000, 100))) {
    throw new Error("redis-server did not open its port in 10 s");
  }
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    pause: () => signal(pid, "SIGSTOP"),
    resume: () => signal(pid, "SIGCONT"),
    flush: async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        await r.flushall();
      } finally {
        r.disconnect();
      }
    },
    close: async () => {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      signal(pid, "SIGKILL");
      await exited;
      unregister();
    },
  };
}
