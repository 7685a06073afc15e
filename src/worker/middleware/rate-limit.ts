/**
 * Cross-room REST throttle: an exact sliding-window log per key in Redis, checked and recorded by one
 * atomic Lua script (EVALSHA, falling back to EVAL on NOSCRIPT). Redis is a cache here too: when it
 * fails the request is let through and the failure logged (fail open), since refusing every request
 * while Redis is down would turn a cache outage into a full outage.
 */
import type { Context, MiddlewareHandler } from "hono";
import { positiveSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import { redisConfigured, withRedis } from "../../lib/redis";
import { AppError } from "../../protocol/errors";
import type { AppEnv, Bindings } from "../types";
import { authenticate, tokenClaims } from "./auth";

/**
 * Every window of one request in one round trip: KEYS[1..n] are the windows, ARGV = now, window, member,
 * limit_1..limit_n. The send is recorded in every window only if all of them allow it. Returns
 * {allowed (1 or 0), remaining in the tightest window, retry-after ms, index of the deciding window}.
 */
const SLIDING_WINDOWS = `
local n = #ARGV - 3
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local remaining, tightest, refused, retry = -1, 1, 0, 0
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  local limit = tonumber(ARGV[3 + i])
  if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    if refused == 0 or wait > retry then refused, retry = i, wait end
  elseif remaining < 0 or limit - count - 1 < remaining then
    remaining, tightest = limit - count - 1, i
  end
end
if refused > 0 then return {0, 0, retry, refused} end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], window)
end
return {1, remaining, 0, tightest}
`;

export interface Limit {
  /** Names the window in Redis keys and logs. */
  name: string;
  perMinute: (env: Bindings) => number;
  key: (c: Context<AppEnv>) => string | null;
}

const WINDOW_MS = 60_000;

/** The client's address as Cloudflare's edge reports it (clients cannot set this header through the edge). */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("cf-connecting-ip") ?? "unknown";
}

/** Checks and records one request against every limit given, in one Redis call. */
export async function checkLimits(c: Context<AppEnv>, limits: Limit[]): Promise<void> {
  const keyed = limits.flatMap((limit) => {
    const key = limit.key(c);
    return key ? [{ limit, key, perMinute: limit.perMinute(c.env) }] : [];
  });
  if (keyed.length === 0 || !redisConfigured(c.env)) return;
  let result: [number, number, number, number];
  try {
    result = await withRedis(
      c.env,
      (redis) =>
        redis.createScript<[number, number, number, number]>(SLIDING_WINDOWS).exec(
          keyed.map((k) => `ratelimit:${k.limit.name}:${k.key}`),
          [String(Date.now()), String(WINDOW_MS), crypto.randomUUID(), ...keyed.map((k) => String(k.perMinute))],
        ),
      { retries: 0, timeoutMs: 1000 },
    );
  } catch (err) {
    logJson("warn", {
      msg: "rate limit check failed; allowing",
      limit: keyed.map((k) => k.limit.name).join("+"),
      requestId: c.get("requestId"),
      error: (err as Error).message,
    });
    return;
  }
  const [allowed, remaining, retryAfterMs, index] = result;
  const deciding = keyed[Math.max(0, index - 1)] ?? (keyed[0] as (typeof keyed)[number]);
  const resetSeconds = Math.ceil((allowed ? WINDOW_MS : retryAfterMs) / 1000);
  const headers = {
    "RateLimit-Limit": String(deciding.perMinute),
    "RateLimit-Remaining": String(remaining),
    "RateLimit-Reset": String(resetSeconds),
  };
  if (!allowed) {
    throw new AppError(429, "throttled", `Too many requests; retry in ${resetSeconds} s`, {
      details: { limit: deciding.limit.name, retryAfterMs },
      headers: { ...headers, "Retry-After": String(resetSeconds) },
    });
  }
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
}

export function rateLimit(limit: Limit): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await checkLimits(c, [limit]);
    await next();
  };
}

/**
 * Every /api request: the per-address window, and for a caller with a validly signed token the per-user
 * window in the same Redis call, run alongside the session check so the two cost one round trip of
 * latency. A missing or refused token is not refused here (public routes take none); requireUser refuses
 * it where one is needed.
 */
export const apiRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const claims = await tokenClaims(c);
  // A failed session check (Postgres down) is the business of routes that need a user, not of public ones.
  const session = authenticate(c).catch(() => undefined);
  await Promise.all([checkLimits(c, claims ? [perIp, perUser(claims.userId)] : [perIp]), session]);
  await next();
};

export const perIp: Limit = {
  name: "ip",
  perMinute: (env) => positiveSetting(env, "RATE_LIMIT_IP_PER_MINUTE"),
  key: clientIp,
};

export function perUser(userId: string): Limit {
  return {
    name: "user",
    perMinute: (env) => positiveSetting(env, "RATE_LIMIT_USER_PER_MINUTE"),
    key: () => userId,
  };
}

/** Login and register: a much smaller budget per address, against password guessing and sign-up floods. */
export const perIpAuth: Limit = {
  name: "auth",
  perMinute: (env) => positiveSetting(env, "RATE_LIMIT_AUTH_PER_MINUTE"),
  key: clientIp,
};
