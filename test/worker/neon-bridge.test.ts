/**
 * The local Neon proxy, exercised through @neondatabase/serverless inside workerd exactly as production
 * code calls it (HTTP for neon(), WebSocket for Pool), plus the raw protocol's error replies.
 */

import { env } from "cloudflare:workers";
import { NeonDbError, neon, Pool } from "@neondatabase/serverless";
import { describe, expect, it } from "vitest";
import { useLocalNeonProxy } from "../../src/db/local-proxy";

useLocalNeonProxy(env.NEON_LOCAL_PROXY);
const sql = neon(env.DATABASE_URL);
const endpoint = `http://${env.NEON_LOCAL_PROXY}/sql`;
const neonHeaders = {
  "Neon-Connection-String": env.DATABASE_URL,
  "Neon-Raw-Text-Output": "true",
  "Neon-Array-Mode": "true",
};

describe("SQL over HTTP (neon())", () => {
  it("round-trips parameters and parses Postgres types like Neon does", async () => {
    const [row] = await sql`select ${41}::int + 1 as n, ${"héllo ✓"}::text as t, null::text as z,
      '2026-01-02T03:04:05Z'::timestamptz as ts, array[1,2,3]::int[] as arr, '{"a":[1,{"b":null}]}'::jsonb as j,
      true as b, 9007199254740993::bigint as big`;
    expect(row).toEqual({
      n: 42,
      t: "héllo ✓",
      z: null,
      ts: new Date("2026-01-02T03:04:05Z"),
      arr: [1, 2, 3],
      j: { a: [1, { b: null }] },
      b: true,
      big: "9007199254740993",
    });
  });

  it("returns full results with fields and row counts when asked", async () => {
    const res = await sql.query("select generate_series(1, $1::int) as i", [3], { fullResults: true });
    expect(res.rowCount).toBe(3);
    expect(res.command).toBe("SELECT");
    expect(res.fields.map((f) => f.name)).toEqual(["i"]);
    expect(res.rows).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
  });

  it("commits a transaction batch atomically and returns one result per query", async () => {
    const table = `tx_${crypto.randomUUID().replaceAll("-", "")}`;
    await sql.query(`create table ${table} (id int primary key)`);
    const results = await sql.transaction([
      sql.query(`insert into ${table} values (1), (2)`),
      sql.query(`select count(*)::int as c from ${table}`),
    ]);
    expect(results[1]).toEqual([{ c: 2 }]);
    await sql.query(`drop table ${table}`);
  });

  it("rolls the whole batch back when one statement fails, with Postgres' error fields", async () => {
    const table = `tx_${crypto.randomUUID().replaceAll("-", "")}`;
    await sql.query(`create table ${table} (id int primary key)`);
    const err = await sql
      .transaction([sql.query(`insert into ${table} values (1)`), sql.query(`insert into ${table} values (1)`)])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeonDbError);
    expect(err).toMatchObject({ code: "23505", constraint: `${table}_pkey`, table });
    expect(await sql.query(`select count(*)::int as c from ${table}`)).toEqual([{ c: 0 }]);
    await sql.query(`drop table ${table}`);
  });

  it("applies the batch isolation level and read-only mode", async () => {
    const [level, readOnly] = await sql.transaction(
      [
        sql`select current_setting('transaction_isolation') as v`,
        sql`select current_setting('transaction_read_only') as v`,
      ],
      { isolationLevel: "Serializable", readOnly: true },
    );
    expect(level).toEqual([{ v: "serializable" }]);
    expect(readOnly).toEqual([{ v: "on" }]);
  });

  it("reports SQL errors as NeonDbError with code and position", async () => {
    const err = await sql`select * from no_such_table`.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeonDbError);
    expect(err).toMatchObject({ code: "42P01", severity: "ERROR", position: "15" });
  });
});

describe("SQL over HTTP: bad requests get Neon's error shape", () => {
  const post = (body: string, headers: Record<string, string> = neonHeaders) =>
    fetch(endpoint, { method: "POST", headers, body });

  it("400 without a connection string", async () => {
    const res = await post(JSON.stringify({ query: "select 1", params: [] }), {});
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ message: "missing Neon-Connection-String header" });
  });

  it("400 for a body that is not JSON or not a query", async () => {
    expect((await post("{nope")).status).toBe(400);
    const res = await post(JSON.stringify({ sql: "select 1" }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/query/);
  });

  it("400 for several statements in one query, refused before any of them runs", async () => {
    const table = `multi_${crypto.randomUUID().replaceAll("-", "")}`;
    await sql.query(`create table ${table} (id int)`);
    const res = await post(JSON.stringify({ query: `insert into ${table} values (1); select 1`, params: [] }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "42601" });
    expect(await sql.query(`select count(*)::int as n from ${table}`)).toEqual([{ n: 0 }]);
    await sql.query(`drop table ${table}`);
  });

  it("403 for browser requests (an Origin header), so web pages cannot reach the local database", async () => {
    const res = await post(JSON.stringify({ query: "select 1", params: [] }), {
      ...neonHeaders,
      Origin: "https://evil.example",
    });
    expect(res.status).toBe(403);
  });

  it("round-trips bytea and null parameters", async () => {
    const [row] = await sql`select ${new Uint8Array([0, 1, 255])}::bytea as b, ${null}::int as n`;
    expect(row).toBeDefined();
    expect(row?.n).toBeNull();
    expect(Array.from(row?.b as Uint8Array)).toEqual([0, 1, 255]);
  });

  it("400 for a connection string to a non-loopback host", async () => {
    const res = await post(JSON.stringify({ query: "select 1", params: [] }), {
      ...neonHeaders,
      "Neon-Connection-String": "postgres://u:p@db.example.com/x",
    });
    expect(res.status).toBe(400);
  });

  it("405 for GET and 404 for other paths", async () => {
    expect((await fetch(endpoint)).status).toBe(405);
    expect((await fetch(`http://${env.NEON_LOCAL_PROXY}/other`, { method: "POST" })).status).toBe(404);
  });

  it("an unreachable Postgres is an error reply, not a hang", async () => {
    const dead = neon(env.TEST_DEAD_DATABASE_URL);
    await expect(dead`select 1`).rejects.toThrow(/HTTP status 502/);
  });
});

describe("WebSocket-to-TCP (Pool)", () => {
  it("runs queries and an interactive transaction over the WebSocket tunnel", async () => {
    const pool = new Pool({ connectionString: env.DATABASE_URL });
    pool.on("error", () => {});
    try {
      const { rows } = await pool.query("select $1::text || ' world' as greeting", ["hello"]);
      expect(rows).toEqual([{ greeting: "hello world" }]);
      const client = await pool.connect();
      try {
        await client.query("begin");
        await client.query("create temp table t (x int) on commit drop");
        await client.query("insert into t values (1), (2), (3)");
        const sum = await client.query("select sum(x)::int as s from t");
        await client.query("commit");
        expect(sum.rows).toEqual([{ s: 6 }]);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });
});
