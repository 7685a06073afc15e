import { count, eq } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { deadLetters } from "../../db/notification-schema";
import { users } from "../../db/schema";
import { flushMetrics, METRICS_KEY } from "../../lib/metrics";
import { redisConfigured, withRedis } from "../../lib/redis";
import { AppError } from "../../protocol/errors";
import { isAdmin } from "../admin/access";
import { activeRoomIds, fleetFigures, STATS_ROOMS } from "../admin/room-figures";
import { renderMetrics } from "../metrics-text";
import { authenticateToken, bearerToken } from "../middleware/auth";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

export const metrics = new Hono<AppEnv>();

async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(a)),
    crypto.subtle.digest("SHA-256", enc.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(x, y);
}

/** Off unless METRICS_ENABLED; then the METRICS_TOKEN secret or an admin's access token. Else: 404. */
async function allowed(env: Bindings, token: string | null): Promise<boolean> {
  if (env.METRICS_ENABLED !== "true" || !token) return false;
  if (env.METRICS_TOKEN && (await sameSecret(token, env.METRICS_TOKEN))) return true;
  try {
    const auth = await authenticateToken(env, token);
    if (!auth.ok) return false;
    const { userId } = auth.claims;
    const [user] = await createDb(env)
      .select({ isAdmin: users.isAdmin, email: users.email, bannedAt: users.bannedAt })
      .from(users)
      .where(eq(users.id, userId))
      .limit(1);
    return Boolean(user && isAdmin(env, user));
  } catch {
    return false;
  }
}

const scrape = defineRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics (off unless METRICS_ENABLED; METRICS_TOKEN or an admin token)",
  tag: "meta",
  auth: "own",
  responses: { 200: { description: "Prometheus text format 0.0.4", contentType: "text/plain; version=0.0.4" } },
});
handle(metrics, scrape, async (c) => {
  if (!(await allowed(c.env, bearerToken(c.req.header("authorization"))))) {
    throw new AppError(404, "not_found", "No such route");
  }
  // This isolate's own counts go out first, so a scrape sees everything up to now from here.
  await flushMetrics(c.env);
  const db = createDb(c.env);
  const [counters, [dead], active] = await Promise.all([
    redisConfigured(c.env)
      ? withRedis(c.env, (r) => r.hgetall<Record<string, number>>(METRICS_KEY)).then((h) => h ?? {})
      : Promise.resolve({}),
    db.select({ n: count() }).from(deadLetters),
    activeRoomIds(db),
  ]);
  const fleet = await fleetFigures(
    c.env,
    active.slice(0, STATS_ROOMS).map((r) => r.id),
  );
  const text = renderMetrics(counters, [
    ["edgechat_live_sockets", fleet.sockets],
    ["edgechat_outbox_depth", fleet.outboxDepth],
    ["edgechat_outbox_oldest_age_seconds", fleet.oldestOutboxAt ? (Date.now() - fleet.oldestOutboxAt) / 1000 : 0],
    ["edgechat_rooms_unreachable", fleet.unreachable],
    ["edgechat_dead_letters", dead?.n ?? 0],
  ]);
  return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});
