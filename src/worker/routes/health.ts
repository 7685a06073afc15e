import { Hono } from "hono";
import { checkPostgres, checkRedis, type DependencyStatus } from "../health-checks";
import type { AppEnv } from "../types";

export const health = new Hono<AppEnv>();

/**
 * Reports each dependency with its latency. 503 names the part that is down; a Redis that is not
 * configured is reported as disabled (a supported mode: the recent-message buffer is off), not as down.
 */
async function readiness(env: AppEnv["Bindings"]) {
  const [postgres, redis] = await Promise.all([checkPostgres(env), checkRedis(env)]);
  const down = (Object.entries({ postgres, redis }) as [string, DependencyStatus][])
    .filter(([, s]) => s.status === "down")
    .map(([name]) => name);
  return { body: { status: down.length ? "unavailable" : "ok", down, postgres, redis }, ok: down.length === 0 };
}

/** Liveness only: the worker runs and answers. Never touches a dependency, so it cannot fail because one is down. */
health.get("/health/live", (c) => {
  c.header("cache-control", "no-store");
  return c.json({ status: "ok" });
});

for (const path of ["/health", "/health/ready"]) {
  health.get(path, async (c) => {
    const { body, ok } = await readiness(c.env);
    c.header("cache-control", "no-store");
    return c.json(body, ok ? 200 : 503);
  });
}
