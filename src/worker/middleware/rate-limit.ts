/**
 * Cross-room REST throttle: an exact sliding-window log per key in Redis, checked and recorded by one
 * atomic Lua script (EVALSHA, falling back to EVAL on NOSCRIPT). Redis is a cache here too: when it
 * fails the request is let through and the failure logged (fail open), since refusing every request
 * while Redis is down would turn a cache outage into a full outage.
 */
import type { Context, MiddlewareHandler } from "hono";
import { positiveInt } from "../../durable-objects/throttle";
import { redisConfigured, withRedis } from "../../lib/redis";
import { AppError } from "../../protocol/errors";
import { logJson } from "../log";
import type { AppEnv, Bindings } from "../types";

// KEYS[2], when given, is a block marker (a banned user): checked in the same round trip.
const SLIDING_WINDOW = `
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0, 0} end
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
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

export async function checkLimit(c: Context<AppEnv>, limit: Limit): Promise<void> {
  const key = limit.key(c);
  if (!key || !redisConfigured(c.env)) return;
  const perMinute = limit.perMinute(c.env);
  let result: [number, number, number];
  try {
    result = await withRedis(
      c.env,
      (redis) =>
        redis
          .createScript<[number, number, number]>(SLIDING_WINDOW)
          .exec(
            [`ratelimit:${limit.name}:${key}`, ...(limit.blockKey?.(c) ? [limit.blockKey(c) as string] : [])],
            [String(Date.now()), String(WINDOW_MS), String(perMinute), crypto.randomUUID()],
          ),
      { retries: 0, timeoutMs: 1000 },
    );
  } catch (err) {
    logJson("warn", {
      msg: "rate limit check failed; allowing",
      limit: limit.name,
      requestId: c.get("requestId"),
      error: (err as Error).message,
    });
    return;
  }
  const [allowed, remaining, retryAfterMs] = result;
  if (allowed === -1) {
    throw new AppError(401, "unauthorized", "This account is suspended", {
      headers: { "WWW-Authenticate": 'Bearer realm="edgechat", error="invalid_token"' },
    });
  }
  const resetSeconds = Math.ceil((allowed ? WINDOW_MS : retryAfterMs) / 1000);
  const headers = {
    "RateLimit-Limit": String(perMinute),
    "RateLimit-Remaining": String(remaining),
    "RateLimit-Reset": String(resetSeconds),
  };
  if (!allowed) {
    throw new AppError(429, "throttled", `Too many requests; retry in ${resetSeconds} s`, {
      details: { limit: limit.name, retryAfterMs },
      headers: { ...headers, "Retry-After": String(resetSeconds) },
    });
  }
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
}

export function rateLimit(limit: Limit): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await checkLimit(c, limit);
    await next();
  };
}

export const perIp: Limit = {
  name: "ip",
  perMinute: (env) => positiveInt(env.RATE_LIMIT_IP_PER_MINUTE, 600),
  key: clientIp,
};

export const perUser: Limit = {
  name: "user",
  perMinute: (env) => positiveInt(env.RATE_LIMIT_USER_PER_MINUTE, 300),
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
  perMinute: (env) => positiveInt(env.RATE_LIMIT_AUTH_PER_MINUTE, 10),
  key: clientIp,
};
