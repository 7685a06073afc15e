import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/worker/app";

type Health = {
  status: string;
  down: string[];
  postgres: { status: string; latencyMs?: number; error?: string };
  redis: { status: string; latencyMs?: number; error?: string };
};

async function health(overrides: Partial<Env> = {}, path = "/health") {
  const res = await app.fetch(new Request(`http://edgechat.test${path}`), { ...env, ...overrides });
  return { res, body: (await res.json()) as Health };
}

describe("GET /health", () => {
  it("reports Postgres and Redis up with their latency", async () => {
    const res = await exports.default.fetch("http://edgechat.test/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Health;
    expect(body).toMatchObject({ status: "ok", down: [], postgres: { status: "up" }, redis: { status: "up" } });
    expect(body.postgres.latencyMs).toBeGreaterThanOrEqual(0);
    expect(body.redis.latencyMs).toBeGreaterThanOrEqual(0);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("answers 503 naming Postgres when it cannot be reached, without leaking the connection string", async () => {
    const { res, body } = await health({ DATABASE_URL: env.TEST_DEAD_DATABASE_URL });
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ status: "unavailable", down: ["postgres"], redis: { status: "up" } });
    expect(body.postgres.status).toBe("down");
    expect(body.postgres.error).toBeTruthy();
    expect(JSON.stringify(body)).not.toContain(env.TEST_DEAD_DATABASE_URL);
  });

  it("answers 503 naming Redis when the Upstash endpoint's Redis is down", async () => {
    const { res, body } = await health({
      UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL,
      UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN,
    });
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ down: ["redis"], postgres: { status: "up" }, redis: { status: "down" } });
  });

  it("answers 503 naming Redis when the Upstash endpoint itself is unreachable, within the timeout", async () => {
    const started = Date.now();
    const { res, body } = await health({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }, "/health/ready");
    expect(res.status).toBe(503);
    expect(body.down).toEqual(["redis"]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("names both parts when both are down", async () => {
    const { res, body } = await health({
      DATABASE_URL: env.TEST_DEAD_DATABASE_URL,
      UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL,
      UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN,
    });
    expect(res.status).toBe(503);
    expect(body.down.sort()).toEqual(["postgres", "redis"]);
  });

  it("reports Redis as disabled (not down) when no Redis is configured", async () => {
    const { res, body } = await health({ UPSTASH_REDIS_REST_URL: "", UPSTASH_REDIS_REST_TOKEN: "" });
    expect(res.status).toBe(200);
    expect(body.redis).toEqual({ status: "disabled" });
  });
});

describe("GET /health/live", () => {
  it("answers 200 without touching Postgres or Redis, even when both are unreachable", async () => {
    const res = await app.fetch(new Request("http://edgechat.test/health/live"), {
      ...env,
      DATABASE_URL: env.TEST_DEAD_DATABASE_URL,
      UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("request ids and errors", () => {
  it("echoes a caller's X-Request-Id and generates one otherwise", async () => {
    const mine = await exports.default.fetch("http://edgechat.test/health", { headers: { "X-Request-Id": "abc-123" } });
    expect(mine.headers.get("x-request-id")).toBe("abc-123");
    const generated = await exports.default.fetch("http://edgechat.test/health");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers unknown routes with the JSON error shape", async () => {
    const res = await exports.default.fetch("http://edgechat.test/nope", { headers: { "X-Request-Id": "req-1" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "No such route", requestId: "req-1" } });
  });
});
