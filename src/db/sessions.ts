/**
 * Whether an access token's session may still act. Postgres is the truth (sessions.revoked_at,
 * users.banned_at); Redis caches each session's state so the steady state costs one Redis round trip and
 * no Postgres query. The cache is written so that it can only err towards asking Postgres:
 * - logout writes "revoked" unconditionally after the durable revocation; a reader that found the session
 *   live in Postgres caches that with NX, so it can never overwrite a revocation it raced;
 * - "live" entries expire after LIVE_CACHE_SECONDS, which bounds how long a revocation whose Redis write
 *   failed (Redis down at logout, back later with its old data) can go unseen;
 * - a missing entry (first use, expiry, Redis wiped) and any Redis failure mean "ask Postgres", never "allow".
 * See docs/decisions.md ("Ending a session"). It lives in src/db so the room can ask it too (auth.refresh).
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { positiveSetting } from "../lib/config";
import { logJson } from "../lib/log";
import { type RedisEnv, redisConfigured, withRedis } from "../lib/redis";
import { createDb, type Db, type DbEnv } from "./client";
import { refreshTokens, sessions, users } from "./schema";

/** What the check needs of the bindings: the worker and the room objects both have it. */
type Bindings = DbEnv & RedisEnv & { ACCESS_TOKEN_TTL_SECONDS?: string };

export type SessionState = "live" | "revoked" | "banned";

const LIVE_CACHE_SECONDS = 60;

export function sessionKey(sessionId: string): string {
  return `session:${sessionId}`;
}

/** Present while a banned user's last access tokens could still be valid (set by the admin ban). */
export function bannedKey(userId: string): string {
  return `banned:${userId}`;
}

/** Long enough to outlive every access token minted in the session before it ended. */
function revokedTtl(env: Bindings): number {
  return positiveSetting(env, "ACCESS_TOKEN_TTL_SECONDS") + 60;
}

async function stateInPostgres(env: Bindings, sessionId: string, userId: string): Promise<SessionState> {
  const [row] = await createDb(env)
    .select({ revokedAt: sessions.revokedAt, bannedAt: users.bannedAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)))
    .limit(1);
  if (!row || row.revokedAt) return "revoked";
  return row.bannedAt ? "banned" : "live";
}

/** The session's state: Redis when it answers with an entry, else Postgres (whose answer is cached). */
export async function sessionState(env: Bindings, sessionId: string, userId: string): Promise<SessionState> {
  if (!redisConfigured(env)) return stateInPostgres(env, sessionId, userId);
  let cached: [string | null, string | null];
  try {
    cached = await withRedis(
      env,
      (r) => r.mget<[string | null, string | null]>(sessionKey(sessionId), bannedKey(userId)),
      {
        retries: 0,
        timeoutMs: 1000,
      },
    );
  } catch (err) {
    logJson("warn", { msg: "session cache unavailable; asking Postgres", error: (err as Error).message });
    return stateInPostgres(env, sessionId, userId);
  }
  const [session, banned] = cached;
  if (banned) return "banned";
  if (session === "revoked") return "revoked";
  if (session === "live") return "live";
  const state = await stateInPostgres(env, sessionId, userId);
  if (state !== "banned") {
    const entry = state === "live" ? { nx: true, ex: LIVE_CACHE_SECONDS } : { ex: revokedTtl(env) };
    await withRedis(env, (r) => r.set(sessionKey(sessionId), state, entry as { nx: true; ex: number }), {
      retries: 0,
      timeoutMs: 1000,
    }).catch(() => undefined);
  }
  return state;
}

/**
 * Ends a session: durably in Postgres first (the truth, and what refresh checks), then the Redis entry,
 * so access tokens are refused from the next request on. A failed Redis write is logged, not fatal: the
 * live entry it should have replaced expires within LIVE_CACHE_SECONDS.
 */
export async function revokeSession(env: Bindings, db: Db, sessionId: string): Promise<void> {
  await db.batch([
    db
      .update(sessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))),
    db
      .update(refreshTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(refreshTokens.familyId, sessionId), isNull(refreshTokens.revokedAt))),
  ]);
  if (!redisConfigured(env)) return;
  await withRedis(env, (r) => r.set(sessionKey(sessionId), "revoked", { ex: revokedTtl(env) })).catch((err: Error) =>
    logJson("error", {
      msg: "session revocation not cached; live entries expire on their own",
      sessionId,
      error: err.message,
    }),
  );
}
