import { Redis } from "@upstash/redis/cloudflare";
import { withDeadline } from "./deadline";

export interface RedisEnv {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
}

export interface RedisOptions {
  /** Abort the calls after this long; Redis is a cache and must never stall a request. */
  timeoutMs?: number;
  /** Retries on network errors; 0 for callers that must answer fast (health, throttles). */
  retries?: number;
}

/** False when Redis is not configured: callers run with the cache off. */
export function redisConfigured(env: RedisEnv): boolean {
  return Boolean(env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN);
}

/** Runs `fn` with a client whose calls all share one deadline. Throws when Redis is not configured. */
export function withRedis<T>(env: RedisEnv, fn: (redis: Redis) => Promise<T>, opts: RedisOptions = {}): Promise<T> {
  if (!redisConfigured(env)) return Promise.reject(new Error("Redis is not configured"));
  return withDeadline(opts.timeoutMs ?? 2000, (signal) => {
    const redis = new Redis({
      url: env.UPSTASH_REDIS_REST_URL,
      token: env.UPSTASH_REDIS_REST_TOKEN,
      retry: opts.retries === 0 ? false : { retries: opts.retries ?? 2, backoff: (n) => 50 * 2 ** n },
      // A function, so an abort surfaces as an error (a plain signal makes the client fake a reply).
      signal: () => signal,
      UPSTASH_DISABLE_TELEMETRY: "1",
      // Plain JSON replies: everything edgechat stores is JSON.stringify output (valid UTF-8, lone
      // surrogates escaped), so the default base64 round trip only cost CPU (a history page's 50
      // messages decoded byte by byte were the REST read's biggest JS cost in bench:profile).
      responseEncoding: false,
    });
    return fn(redis);
  });
}
