import type { MiddlewareHandler } from "hono";
import { logJson } from "../../lib/log";
import { inc, maybeFlushMetrics, observe } from "../../lib/metrics";
import type { AppEnv } from "../types";

/** Any other method string a client invents would become a new series: they are counted as "other". */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * One line per request, and its counts for /metrics. Logs the path only (never the query string, which
 * may carry a ticket); metrics use the route pattern, so ids never become label values.
 */
export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = Date.now();
  await next();
  logJson(c.res.status >= 500 ? "error" : "info", {
    msg: "request",
    requestId: c.get("requestId"),
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    status: c.res.status,
    durationMs: Date.now() - started,
    userId: c.get("userId"),
  });
  const route = c.req.routePath && c.req.routePath !== "/*" && c.res.status !== 404 ? c.req.routePath : "unmatched";
  const method = METHODS.has(c.req.method) ? c.req.method : "other";
  inc("edgechat_http_requests_total", { route, method, status: c.res.status });
  observe("edgechat_http_request_duration_seconds", { route }, (Date.now() - started) / 1000);
  try {
    maybeFlushMetrics(c.env, (p) => c.executionCtx.waitUntil(p));
  } catch {
    // No execution context (unit calls of app.fetch): the next request or scrape flushes.
  }
};
