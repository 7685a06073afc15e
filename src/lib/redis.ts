import { Redis } from "@upstash/redis/cloudflare";

export interface RedisEnv {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
}

export interface RedisOptions {
  /** Abort each call after this long; Redis is a cache and must never stall a request. */
  timeoutMs?: number;
  /** Retries on network errors; 0 for callers that must answer fast (health, throttles). */
  retries?: number;
}

/** Null when Redis is not configured: callers run with the cache off. */
export function createRedis(env: RedisEnv, opts: RedisOptions = {}): Redis | null {
  if (!env.UPSTASH_REDIS_REST_URL || !env.UPSTASH_REDIS_REST_TOKEN) return null;
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    retry: opts.retries === 0 ? false : { retries: opts.retries ?? 2, backoff: (n) => 50 * 2 ** n },
    // A function, so every request gets a fresh deadline.
    signal: () => AbortSignal.timeout(timeoutMs),
    UPSTASH_DISABLE_TELEMETRY: "1",
  });
}
