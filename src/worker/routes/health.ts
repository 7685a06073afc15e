import { Hono } from "hono";
import { livenessReply, readinessReply } from "../../protocol/responses/health";
import { checkPostgres, checkRedis, type DependencyStatus } from "../health-checks";
import { defineRoute, handle } from "../route";
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
  const status = down.length ? ("unavailable" as const) : ("ok" as const);
  return { body: { status, down, postgres, redis }, ok: down.length === 0 };
}

/** Liveness only: the worker runs and answers. Never touches a dependency, so it cannot fail because one is down. */
const live = defineRoute({
  method: "get",
  path: "/health/live",
  summary: "Liveness: the worker answers (no dependency checks)",
  tag: "health",
  auth: "none",
  responses: { 200: { description: "OK", schema: livenessReply } },
});
handle(health, live, (c) => {
  c.header("cache-control", "no-store");
  return c.json({ status: "ok" as const });
});

for (const [path, summary] of [
  ["/health", "Postgres and Redis status (503 naming what is down)"],
  ["/health/ready", "Same as /health"],
] as const) {
  const ready = defineRoute({
    method: "get",
    path,
    summary,
    tag: "health",
    auth: "none",
    responses: {
      200: { description: "Every dependency up (or disabled)", schema: readinessReply },
      503: { description: "Some dependency down, named in `down`", schema: readinessReply },
    },
  });
  handle(health, ready, async (c) => {
    const { body, ok } = await readiness(c.env);
    c.header("cache-control", "no-store");
    return c.json(body, ok ? 200 : 503);
  });
}
