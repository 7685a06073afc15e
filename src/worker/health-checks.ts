import { neon } from "@neondatabase/serverless";
import type { DbEnv } from "../db/client";
import { useLocalNeonProxy } from "../db/local-proxy";
import { withDeadline } from "../lib/deadline";
import { type RedisEnv, redisConfigured, withRedis } from "../lib/redis";

export type DependencyStatus =
  | { status: "up"; latencyMs: number }
  | { status: "down"; latencyMs: number; error: string }
  | { status: "disabled" };

const TIMEOUT_MS = 2000;

async function timed(probe: () => Promise<unknown>): Promise<DependencyStatus> {
  const started = Date.now();
  try {
    await probe();
    return { status: "up", latencyMs: Date.now() - started };
  } catch (err) {
    return { status: "down", latencyMs: Date.now() - started, error: describe(err) };
  }
}

/** A message safe to show: driver errors can embed the connection string, so credentials are cut out. */
function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/\b(postgres(?:ql)?|rediss?|https?):\/\/[^\s"']+/gi, "$1://<redacted>")
    .replace(/\/\/[^/@\s]+@/g, "//<redacted>@")
    .slice(0, 300);
}

export function checkPostgres(env: DbEnv): Promise<DependencyStatus> {
  useLocalNeonProxy(env.NEON_LOCAL_PROXY);
  return timed(() =>
    withDeadline(TIMEOUT_MS, (signal) => neon(env.DATABASE_URL, { fetchOptions: { signal } })`select 1`),
  );
}

export async function checkRedis(env: RedisEnv): Promise<DependencyStatus> {
  if (!redisConfigured(env)) return { status: "disabled" };
  return timed(() =>
    withRedis(
      env,
      async (redis) => {
        const reply = await redis.ping();
        if (reply !== "PONG") throw new Error(`unexpected PING reply: ${String(reply)}`);
      },
      { retries: 0, timeoutMs: TIMEOUT_MS },
    ),
  );
}
