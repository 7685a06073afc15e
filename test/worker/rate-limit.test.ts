/** The REST throttle in Redis: exact per-window budgets, standard headers, and failing open without Redis. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/worker/app";

afterEach(() => {
  vi.restoreAllMocks();
});

function request(path: string, ip: string, init: RequestInit = {}, overrides: Partial<Env> = {}) {
  const headers = new Headers(init.headers);
  headers.set("cf-connecting-ip", ip);
  return app.fetch(new Request(`http://edgechat.test${path}`, { ...init, headers }), { ...env, ...overrides });
}

const login = (ip: string, overrides: Partial<Env> = {}) =>
  request(
    "/api/auth/login",
    ip,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      // A new email each time: failures per account (login-guard.test.ts) would otherwise answer 429 first.
      body: JSON.stringify({ email: `nobody-${crypto.randomUUID()}@example.test`, password: "wrong password" }),
    },
    overrides,
  );

describe("REST rate limits", () => {
  it("gives login a small budget per address, with RateLimit and Retry-After headers", async () => {
    const ip = `203.0.113.${Math.floor(Math.random() * 250)}-${crypto.randomUUID()}`;
    const tight = { RATE_LIMIT_AUTH_PER_MINUTE: "3" };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await login(ip, tight);
      statuses.push(res.status);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
      expect(res.headers.get("ratelimit-remaining")).toBe(String(2 - i));
    }
    expect(statuses).toEqual([401, 401, 401]);
    const blocked = await login(ip, tight);
    expect(blocked.status).toBe(429);
    const retry = Number(blocked.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(50);
    expect(retry).toBeLessThanOrEqual(60);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe("throttled");
    // Another address is not affected.
    expect((await login(`${ip}-other`, tight)).status).toBe(401);
  });

  it("limits each signed-in user across all routes", async () => {
    const { createUser } = await import("../helpers/fixtures");
    const ana = await createUser("ana");
    const tight = { RATE_LIMIT_USER_PER_MINUTE: "2" };
    const me = (ip: string) =>
      request("/api/auth/me", ip, { headers: { authorization: `Bearer ${ana.token}` } }, tight);
    expect((await me(`a-${crypto.randomUUID()}`)).status).toBe(200);
    expect((await me(`b-${crypto.randomUUID()}`)).status).toBe(200);
    // A new address does not reset the user's budget.
    expect((await me(`c-${crypto.randomUUID()}`)).status).toBe(429);
  });

  it("counts a signed-in request against its address and its user in one check, naming the one that refused", async () => {
    const { createUser } = await import("../helpers/fixtures");
    const ana = await createUser("ana");
    const ip = `ip-${crypto.randomUUID()}`;
    const tight = { RATE_LIMIT_IP_PER_MINUTE: "2", RATE_LIMIT_USER_PER_MINUTE: "100" };
    const me = () => request("/api/auth/me", ip, { headers: { authorization: `Bearer ${ana.token}` } }, tight);
    const first = await me();
    expect(first.status).toBe(200);
    // The tighter window is the one reported.
    expect(first.headers.get("ratelimit-limit")).toBe("2");
    expect(first.headers.get("ratelimit-remaining")).toBe("1");
    expect((await me()).status).toBe(200);
    const refused = await me();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { details: { limit: string } } }).error.details.limit).toBe("ip");
  });

  it("still limits by address when the bearer token is bogus, on public and private routes alike", async () => {
    const ip = `bogus-${crypto.randomUUID()}`;
    const tight = { RATE_LIMIT_IP_PER_MINUTE: "2" };
    const bogus = { headers: { authorization: "Bearer not.a.token" } };
    expect((await request("/api/push/vapid-public-key", ip, bogus, tight)).status).not.toBe(429);
    expect((await request("/api/auth/me", ip, bogus, tight)).status).toBe(401);
    expect((await request("/api/push/vapid-public-key", ip, bogus, tight)).status).toBe(429);
  });

  it("fails open, and says so in the log, when Redis is down", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const res = await login(`down-${crypto.randomUUID()}`, {
      RATE_LIMIT_AUTH_PER_MINUTE: "1",
      UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL,
      UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("ratelimit-limit")).toBeNull();
    expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toContain("rate limit check failed; allowing");
  });
});
