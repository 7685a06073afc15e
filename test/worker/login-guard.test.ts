/**
 * Failed sign-ins per account (src/worker/auth/login-guard.ts): an exponential wait after a few free
 * failures, whatever the client address, the same for unknown emails, reset by a right password, capped,
 * and held in Postgres (Redis down changes nothing).
 */
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { loginAttempts } from "../../src/db/moderation-schema";
import { app } from "../../src/worker/app";
import { accountKey, lockDelayMs, loginGuardSettings, sweepLoginAttempts } from "../../src/worker/auth/login-guard";
import { db } from "../helpers/fixtures";
import { bindings, type Redis } from "../helpers/worker-call";

const PASSWORD = "correct horse battery";

async function login(
  email: string,
  password: string,
  o: { ip?: string; redis?: Redis; vars?: Record<string, string> } = {},
) {
  const res = await app.fetch(
    new Request("http://edgechat.test/api/auth/login", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "cf-connecting-ip": o.ip ?? `198.51.100.${Math.floor(Math.random() * 250)}`,
      },
      body: JSON.stringify({ email, password }),
    }),
    { ...bindings(o.redis ?? "up"), ...o.vars },
  );
  const text = await res.text();
  return { res, status: res.status, json: text ? JSON.parse(text) : null };
}

async function account() {
  const email = `Guarded-${crypto.randomUUID()}@Example.test`;
  const res = await app.fetch(
    new Request("http://edgechat.test/api/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, displayName: "Guarded", password: PASSWORD }),
    }),
    env,
  );
  expect(res.status).toBe(201);
  await res.arrayBuffer();
  return email;
}

const unknownEmail = () => `nobody-${crypto.randomUUID()}@example.test`;

async function record(email: string) {
  const [row] = await db()
    .select()
    .from(loginAttempts)
    .where(eq(loginAttempts.emailKey, accountKey(email)));
  return row;
}

/** Lets the account's current wait run out (as time would) without waiting for it. */
async function expireLock(email: string) {
  await db()
    .update(loginAttempts)
    .set({ lockedUntil: sql`now() - interval '1 millisecond'` })
    .where(eq(loginAttempts.emailKey, accountKey(email)));
}

/** A long first wait, so that nothing in a test runs out by itself. */
const SLOW = { LOGIN_LOCK_BASE_MS: "60000" };

describe("failed sign-ins per account", () => {
  it("15 wrong passwords from 15 addresses: 5 free, the 6th starts a wait, the rest are 429", async () => {
    const email = await account();
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await login(email, "wrong password", { ip: `203.0.113.${i + 1}`, vars: SLOW });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.json.error).toMatchObject({ code: "throttled", details: { limit: "account" } });
        expect(Number(r.res.headers.get("retry-after"))).toBeGreaterThan(50);
        expect(Number(r.res.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      }
    }
    expect(statuses).toEqual([...Array(6).fill(401), ...Array(9).fill(429)]);
    // Refused attempts are not failures: they cannot make the wait longer.
    expect((await record(email))?.failures).toBe(6);
    // While the account waits even the right password is refused, from a new address too.
    expect((await login(email, PASSWORD, { ip: "192.0.2.200", vars: SLOW })).status).toBe(429);
  });

  it("doubles the wait with each failure after the free ones, from 1 s, and caps it", async () => {
    const s = loginGuardSettings(env);
    expect([5, 6, 7, 8, 9, 16, 17, 60].map((n) => lockDelayMs(n, s))).toEqual([
      0, 1000, 2000, 4000, 8000, 900_000, 900_000, 900_000,
    ]);
    const email = await account();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      expect((await login(email, "wrong password")).status).toBe(401);
      const row = await record(email);
      waits.push(row?.lockedUntil && row.lastFailedAt ? row.lockedUntil.getTime() - row.lastFailedAt.getTime() : 0);
      await expireLock(email);
    }
    expect(waits).toEqual([0, 0, 0, 0, 0, 1000, 2000, 4000, 8000]);
  });

  it("never locks an account for longer than the cap, however many failures it had (the worst case)", async () => {
    const email = await account();
    await db()
      .insert(loginAttempts)
      .values({ emailKey: accountKey(email), failures: 1000, lastFailedAt: new Date(), lockedUntil: new Date(0) });
    expect((await login(email, "wrong password")).status).toBe(401);
    const locked = await login(email, PASSWORD);
    expect(locked.status).toBe(429);
    const retry = Number(locked.res.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(890);
    expect(retry).toBeLessThanOrEqual(900);
    const row = await record(email);
    expect((row?.lockedUntil?.getTime() ?? 0) - (row?.lastFailedAt?.getTime() ?? 0)).toBe(900_000);
    // Once that wait is over, the right password gets in and the account starts over.
    await expireLock(email);
    expect((await login(email, PASSWORD)).status).toBe(200);
    expect(await record(email)).toBeUndefined();
  });

  it("a right password resets the count", async () => {
    const email = await account();
    for (let i = 0; i < 5; i++) expect((await login(email, "wrong password", { vars: SLOW })).status).toBe(401);
    expect((await login(email.toUpperCase(), PASSWORD, { vars: SLOW })).status).toBe(200);
    expect(await record(email)).toBeUndefined();
    // Five free failures again, then the wait.
    const again: number[] = [];
    for (let i = 0; i < 7; i++) again.push((await login(email, "wrong password", { vars: SLOW })).status);
    expect(again).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });

  it("forgets failures after LOGIN_FAILURE_MEMORY_SECONDS without one", async () => {
    const email = await account();
    await db()
      .insert(loginAttempts)
      .values({
        emailKey: accountKey(email),
        failures: 40,
        lastFailedAt: new Date(Date.now() - 2 * 86_400_000),
        lockedUntil: new Date(Date.now() - 86_400_000),
      });
    expect((await login(email, "wrong password")).status).toBe(401);
    expect(await record(email)).toMatchObject({ failures: 1, lockedUntil: null });
  });

  it("sweeps records that no longer matter, and only those", async () => {
    const day = 86_400_000;
    const rows = {
      old: { failures: 9, lastFailedAt: new Date(Date.now() - 2 * day), lockedUntil: new Date(Date.now() - day) },
      recent: { failures: 2, lastFailedAt: new Date(), lockedUntil: null },
      // Old failures but a wait still in force (a memory window shorter than the cap): kept.
      waiting: {
        failures: 30,
        lastFailedAt: new Date(Date.now() - 2 * day),
        lockedUntil: new Date(Date.now() + 60_000),
      },
    };
    const keys = Object.fromEntries(Object.keys(rows).map((k) => [k, `sweep-${k}-${crypto.randomUUID()}`]));
    await db()
      .insert(loginAttempts)
      .values(Object.entries(rows).map(([k, v]) => ({ emailKey: keys[k] as string, ...v })));
    expect(await sweepLoginAttempts(db(), loginGuardSettings(env))).toBeGreaterThanOrEqual(1);
    const left = await db()
      .select({ key: loginAttempts.emailKey })
      .from(loginAttempts)
      .where(
        sql`${loginAttempts.emailKey} like 'sweep-%' and ${loginAttempts.emailKey} in (${sql.join(
          Object.values(keys).map((k) => sql`${k}`),
          sql`, `,
        )})`,
      );
    expect(left.map((r) => r.key).sort()).toEqual([keys.recent, keys.waiting].sort());
  });

  it("answers an unknown email exactly as a known one: statuses, bodies and headers", async () => {
    const known = await account();
    const unknown = unknownEmail();
    const seen = async (email: string) => {
      const out: { status: number; body: unknown; headers: Record<string, string> }[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await login(email, "wrong password", { ip: `192.0.2.${i + 1}`, vars: SLOW });
        const headers = Object.fromEntries(
          [...r.res.headers].filter(([name]) => name !== "x-request-id" && !name.startsWith("ratelimit")),
        );
        out.push({ status: r.status, body: { ...r.json.error, requestId: undefined }, headers });
      }
      return out;
    };
    const [a, b] = [await seen(known), await seen(unknown)];
    expect(a.map((x) => x.status)).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
    expect(b).toEqual(a);
    expect(a[6]?.headers["retry-after"]).toBe("60");
  });

  it("holds with Redis down: the record is in Postgres", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const email = await account();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await login(email, "wrong password", { redis: "down", vars: SLOW })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    expect((await login(email, PASSWORD, { redis: "down", vars: SLOW })).status).toBe(429);
    // Redis really was down: the per-address limiter said it let the requests through.
    expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toContain("rate limit check failed; allowing");
    warn.mockRestore();
  });

  it("charges parallel guesses one by one: a burst cannot slip past the wait", async () => {
    const email = await account();
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login(email, "wrong password", { ip: `198.18.0.${i + 1}`, vars: SLOW })),
    );
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401).length).toBe(6);
    expect(statuses.filter((s) => s === 429).length).toBe(6);
  });
});
