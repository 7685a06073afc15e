import { neon } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import { useLocalNeonProxy } from "./local-proxy";
import * as schema from "./schema";

export interface DbEnv {
  DATABASE_URL: string;
  /** Dev and tests only: host:port of the local Neon-compatible proxy. */
  NEON_LOCAL_PROXY?: string;
}

/**
 * Postgres over Neon's HTTP endpoint: one stateless fetch per query (or per transaction batch), so it
 * holds no socket open and never keeps a Durable Object from hibernating.
 */
export function createDb(env: DbEnv, opts: { signal?: AbortSignal } = {}) {
  useLocalNeonProxy(env.NEON_LOCAL_PROXY);
  const client = neon(env.DATABASE_URL, opts.signal ? { fetchOptions: { signal: opts.signal } } : {});
  return drizzle({ client, schema });
}

export type Db = ReturnType<typeof createDb>;
