import { neon } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { DbEnv } from "./client";
import { useLocalNeonProxy } from "./local-proxy";

/**
 * Postgres for reads that must agree with each other: every `batch([...])` on it runs as one READ ONLY,
 * REPEATABLE READ transaction, so all of its statements see one snapshot. A batch on `createDb` runs at
 * READ COMMITTED, where each statement takes a snapshot of its own and a commit landing between two of
 * them (the room's write-through) shows in the second but not the first. Single statements are the same
 * on both.
 */
export function createSnapshotDb(env: DbEnv) {
  useLocalNeonProxy(env.NEON_LOCAL_PROXY);
  return drizzle({ client: neon(env.DATABASE_URL, { isolationLevel: "RepeatableRead", readOnly: true }) });
}

export type SnapshotDb = ReturnType<typeof createSnapshotDb>;
