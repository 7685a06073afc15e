import type { MiddlewareHandler } from "hono";
import { logJson } from "../log";
import type { AppEnv } from "../types";

/** One line per request. Logs the path only (never the query string, which may carry a ticket). */
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
};
