import { neon } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import { useLocalNeonProxy } from "./local-proxy";

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
  // No `schema`: nothing uses the relational query API, and passing it rebuilds drizzle's relational
  // config on every call (a visible share of the room's CPU per flush in bench:profile).
  return drizzle({ client });
}

export type Db = ReturnType<typeof createDb>;
