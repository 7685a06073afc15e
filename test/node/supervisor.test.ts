/**
 * The supervision `npm run dev` puts around wrangler (issue 22, defect 1): a child that dies is restarted with
 * one log line while the rest stays up, quick deaths back off and are finally given up on, and stopping takes
 * the child's whole process group. The child here is a small HTTP server standing in for wrangler; the
 * end-to-end suite kills the real wrangler under `npm run dev`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/local-stack/ports.ts";
import { type Supervisor, supervise } from "../../scripts/local-stack/supervisor.ts";

const dir = mkdtempSync(path.join(tmpdir(), "edgechat-supervisor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Answers /health with its pid, after starting a grandchild (as wrangler starts workerd) that prints its pid. */
const server = path.join(dir, "server.mjs");
writeFileSync(
  server,
  `import { createServer } from "node:http";
import { spawn } from "node:child_process";
const grandchild = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, grandchild: grandchild.pid })))
  .listen(Number(process.argv[2]), "127.0.0.1");
`,
);

async function health(port: number): Promise<{ pid: number; grandchild: number } | null> {
  return fetch(`http://127.0.0.1:${port}/health`).then(
    (r) => r.json() as Promise<{ pid: number; grandchild: number }>,
    () => null,
  );
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("wrangler supervision", () => {
  it("restarts a child that was killed, says so in one line, and stop() takes its whole group", async () => {
    const port = await freePort();
    const lines: string[] = [];
    let gaveUp = false;
    const sup: Supervisor = supervise({
      name: "server",
      log: (line) => lines.push(line),
      // Counted as healthy once it has served: its death restarts it at once.
      healthyAfterMs: 200,
      start: () => spawn(process.execPath, [server, String(port)], { detached: true, stdio: "ignore" }),
      onGiveUp: () => {
        gaveUp = true;
      },
    });
    try {
      const first = await until("the first child", () => health(port));
      await new Promise((r) => setTimeout(r, 250));
      // A crash as wrangler has them: the child alone dies, its grandchild (workerd) is left holding on.
      process.kill(first.pid, "SIGKILL");
      const second = await until("the restarted child", async () => {
        const h = await health(port);
        return h && h.pid !== first.pid ? h : null;
      });
      expect(sup.restarts()).toBe(1);
      expect(lines).toEqual(["server exited (signal SIGKILL); restarting it, the rest of the stack stays up"]);
      // The dead child's group went with it, so nothing of the old one holds the port.
      await until("the old grandchild to go", async () => !alive(first.grandchild));
      expect(gaveUp).toBe(false);

      await sup.stop();
      expect(alive(second.pid)).toBe(false);
      await until("the new grandchild to go", async () => !alive(second.grandchild));
      expect(await health(port)).toBeNull();
      expect(lines).toHaveLength(1);
    } finally {
      await sup.stop();
    }
  });

  it("backs off a child that keeps dying at start, then gives up", async () => {
    const lines: string[] = [];
    const starts: number[] = [];
    const gaveUp = new Promise<number>((resolve) => {
      supervise({
        name: "broken",
        log: (line) => lines.push(line),
        start: () => {
          starts.push(Date.now());
          return spawn(process.execPath, ["-e", "process.exit(3)"], { detached: true, stdio: "ignore" });
        },
        firstBackoffMs: 100,
        maxBackoffMs: 400,
        maxQuickDeaths: 4,
        onGiveUp: resolve,
      });
    });
    expect(await gaveUp).toBe(3);
    expect(starts).toHaveLength(4);
    const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number));
    // 100, 200, 400 ms apart (each plus the time to start a process).
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);
    expect(lines).toEqual([
      "broken exited (code 3); restarting it in 0.1 s, the rest of the stack stays up",
      "broken exited (code 3); restarting it in 0.2 s, the rest of the stack stays up",
      "broken exited (code 3); restarting it in 0.4 s, the rest of the stack stays up",
      "broken exited (code 3) 4 times in a row within seconds of starting; giving up",
    ]);
  });
});
