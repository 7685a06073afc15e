import type { MiddlewareHandler } from "hono";
import { SECURITY_HEADERS } from "../../lib/security-headers";
import type { AppEnv } from "../types";

/**
 * The web app's security headers on every response the worker makes; a route that sets its own policy
 * (the docs page) keeps it. WebSocket upgrades pass through untouched.
 */
export const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.res.status === 101 || c.res.webSocket) return;
  const missing = Object.entries(SECURITY_HEADERS).filter(([name]) => !c.res.headers.has(name));
  if (missing.length === 0) return;
  try {
    for (const [name, value] of missing) c.res.headers.set(name, value);
  } catch {
    // Headers of a response fetched from elsewhere (a room object) are immutable: copy it.
    const res = new Response(c.res.body, c.res);
    for (const [name, value] of missing) res.headers.set(name, value);
    c.res = res;
  }
};
