/**
 * The local stack shared by `npm run dev` and the test suite's global setup: real Postgres and Redis,
 * fronted by bridges that speak Neon's and Upstash's protocols so production drivers run unchanged.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applyMigrations } from "./migrate.ts";
import { type NeonProxy, startNeonProxy } from "./neon-proxy.ts";
import { redact, resolvePostgres } from "./postgres.ts";
import { resolveRedis } from "./redis.ts";
import { startUpstashBridge, type UpstashBridge } from "./upstash-bridge.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface StackOptions {
  /** Database name on a shared local server; dev and tests use different ones. */
  database: string;
  neonProxyPort?: number;
  upstashBridgePort?: number;
  /** Upstash token the bridge accepts; random when not given. */
  upstashToken?: string;
  controlEndpoints?: boolean;
  log?: (line: string) => void;
}

export interface LocalStack {
  databaseUrl: string;
  neonProxy: NeonProxy;
  /** Null when no Redis could be found or started: the app then runs with the buffer off. */
  upstash: UpstashBridge | null;
  /** Worker bindings that point the production drivers at the local bridges. */
  bindings: Record<string, string>;
  summary: string[];
  stop(): Promise<void>;
}

export async function startLocalStack(opts: StackOptions): Promise<LocalStack> {
  const log = opts.log ?? (() => {});
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e: Error) => log(`stop failed: ${e.message}`));
  };
  try {
    const postgres = await resolvePostgres({
      database: opts.database,
      dataDir: path.join(ROOT, ".local", "postgres"),
      log,
    });
    stops.push(postgres.stop);
    await applyMigrations(postgres.url);

    const pgUrl = new URL(postgres.url);
    const neonProxy = await startNeonProxy({
      port: opts.neonProxyPort,
      controlEndpoints: opts.controlEndpoints,
      allowedTargets: [`${pgUrl.hostname}:${pgUrl.port || 5432}`],
    });
    stops.push(neonProxy.stop);

    const redis = await resolveRedis();
    let upstash: UpstashBridge | null = null;
    if (redis) {
      stops.push(redis.stop);
      upstash = await startUpstashBridge({
        redisUrl: redis.url,
        token: opts.upstashToken ?? randomBytes(24).toString("base64url"),
        port: opts.upstashBridgePort,
      });
      stops.push(upstash.stop);
    }

    const bindings: Record<string, string> = {
      DATABASE_URL: postgres.url,
      NEON_LOCAL_PROXY: `127.0.0.1:${neonProxy.port}`,
      UPSTASH_REDIS_REST_URL: upstash?.url ?? "",
      UPSTASH_REDIS_REST_TOKEN: upstash?.token ?? "",
    };
    const summary = [
      `Postgres       ${redact(postgres.url)} (${postgres.source}), migrations applied`,
      `Neon proxy     http://127.0.0.1:${neonProxy.port}/sql and ws://127.0.0.1:${neonProxy.port}/v1`,
      redis && upstash
        ? `Redis          ${redis.url} (${redis.source}) via Upstash bridge ${upstash.url}`
        : "Redis          not found (no REDIS_URL, nothing on 127.0.0.1:6379, no redis-server on PATH): recent-message buffer OFF",
    ];
    return { databaseUrl: postgres.url, neonProxy, upstash, bindings, summary, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
