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
import { tryAuthenticate } from "./auth";

/**
 * Every window of one request in one round trip: KEYS[1..n] are the windows, ARGV = now, window, member,
 * limit_1..limit_n; KEYS[n+1], when given, is a block marker (a banned user). The send is recorded in
 * every window only if all of them allow it. Returns {allowed (1, 0, or -1 blocked), remaining in the
 * tightest window, retry-after ms, index of the deciding window}.
 */
const SLIDING_WINDOWS = `
local n = #ARGV - 3
if KEYS[n + 1] and redis.call('EXISTS', KEYS[n + 1]) == 1 then return {-1, 0, 0, 0} end
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
  /** A Redis key whose presence refuses the request outright (401). */
  blockKey?: (c: Context<AppEnv>) => string | null;
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
  const block = limits.map((l) => l.blockKey?.(c)).find((k): k is string => Boolean(k));
  let result: [number, number, number, number];
  try {
    result = await withRedis(
      c.env,
      (redis) =>
        redis
          .createScript<[number, number, number, number]>(SLIDING_WINDOWS)
          .exec(
            [...keyed.map((k) => `ratelimit:${k.limit.name}:${k.key}`), ...(block ? [block] : [])],
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
  if (allowed === -1) {
    throw new AppError(401, "unauthorized", "This account is suspended", {
      headers: { "WWW-Authenticate": 'Bearer realm="edgechat", error="invalid_token"' },
    });
  }
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
 * Every /api request: the per-address window, and for a caller with a valid access token the per-user
 * window (and ban marker) in the same Redis call. A missing or invalid token is not refused here (public
 * routes take none); requireUser refuses it where one is needed.
 */
export const apiRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const signedIn = await tryAuthenticate(c);
  await checkLimits(c, signedIn ? [perIp, perUser] : [perIp]);
  if (signedIn) c.set("userLimited", true);
  await next();
};

export const perIp: Limit = {
  name: "ip",
  perMinute: (env) => positiveSetting(env, "RATE_LIMIT_IP_PER_MINUTE"),
  key: clientIp,
};

export const perUser: Limit = {
  name: "user",
  perMinute: (env) => positiveSetting(env, "RATE_LIMIT_USER_PER_MINUTE"),
  key: (c) => c.get("userId") ?? null,
  blockKey: (c) => {
    const userId = c.get("userId");
    return userId ? bannedKey(userId) : null;
  },
};

/** Present while a banned user's last access tokens could still be valid (set by the admin ban). */
export function bannedKey(userId: string): string {
  return `banned:${userId}`;
}

/** Login and register: a much smaller budget per address, against password guessing and sign-up floods. */
export const perIpAuth: Limit = {
  name: "auth",
  perMinute: (env) => positiveSetting(env, "RATE_LIMIT_AUTH_PER_MINUTE"),
  key: clientIp,
};
