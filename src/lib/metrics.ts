/**
 * Prometheus counters for a fleet of isolates. Each isolate (worker or room object) adds to local
 * counters and flushes them to one Redis hash at most every few seconds, in one pipelined call, off the
 * request path (waitUntil). /metrics renders the hash. An isolate evicted between flushes loses its last
 * few seconds of counts: acceptable for rates and trends, and far cheaper than a Redis call per event.
 */
import { type RedisEnv, redisConfigured, withRedis } from "./redis";

export const METRICS_KEY = "metrics:counters";
const FLUSH_EVERY_MS = 5000;
/** Request latency buckets in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type Labels = Record<string, string | number>;

/** `name{a="x",b="y"}`, labels sorted, values escaped as the text format wants. */
export function seriesKey(name: string, labels: Labels = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}

const pending = new Map<string, number>();
let lastFlush = Date.now();
let flushing: Promise<void> | null = null;

export function inc(name: string, labels: Labels = {}, by = 1): void {
  const key = seriesKey(name, labels);
  pending.set(key, (pending.get(key) ?? 0) + by);
}

/** A histogram observation: cumulative buckets, _sum and _count. */
export function observe(name: string, labels: Labels, value: number): void {
  for (const le of LATENCY_BUCKETS) if (value <= le) inc(`${name}_bucket`, { ...labels, le });
  inc(`${name}_bucket`, { ...labels, le: "+Inf" });
  inc(`${name}_sum`, labels, value);
  inc(`${name}_count`, labels);
}

/** Sends pending counts to Redis (all of them, or none: a failed flush puts them back). */
export async function flushMetrics(env: RedisEnv): Promise<void> {
  if (flushing) await flushing;
  if (pending.size === 0 || !redisConfigured(env)) return;
  const batch = [...pending];
  pending.clear();
  lastFlush = Date.now();
  flushing = withRedis(
    env,
    async (redis) => {
      const p = redis.pipeline();
      for (const [key, by] of batch) {
        if (Number.isInteger(by)) p.hincrby(METRICS_KEY, key, by);
        else p.hincrbyfloat(METRICS_KEY, key, by);
      }
      await p.exec();
    },
    { retries: 0, timeoutMs: 2000 },
  )
    .catch(() => {
      for (const [key, by] of batch) pending.set(key, (pending.get(key) ?? 0) + by);
    })
    .finally(() => {
      flushing = null;
    });
  await flushing;
}

/** Flushes when the interval has passed; `waitUntil` keeps the flush off the caller's response. */
export function maybeFlushMetrics(env: RedisEnv, waitUntil: (p: Promise<unknown>) => void): void {
  if (pending.size > 0 && Date.now() - lastFlush >= FLUSH_EVERY_MS) waitUntil(flushMetrics(env));
}
