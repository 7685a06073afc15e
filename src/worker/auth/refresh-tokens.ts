/**
 * Refresh tokens: 256 random bits handed to the client once, stored as a SHA-256 hash. Each belongs to a
 * session (its family); every use rotates the token within it, and a replayed (already used) token revokes
 * the session, since it means the token leaked. Rotation refuses any token of a revoked session, so a
 * token minted by a refresh that raced the revocation is dead too.
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { refreshTokens, sessions, users } from "../../db/schema";
import { base64url } from "./password";

export const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

async function sha256(text: string): Promise<string> {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function newToken() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function expiry() {
  return new Date(Date.now() + REFRESH_TTL_SECONDS * 1000).toISOString();
}

/**
 * Starts a session with its first refresh token, only while the user is not banned. The share lock on
 * the user row orders this against an admin's ban (which updates that row, then revokes the user's tokens
 * in one transaction): either the ban waits and then revokes this token too, or this insert waits and then
 * sees the ban. Returns null for a banned (or deleted) user.
 */
export async function startSession(db: Db, userId: string): Promise<{ sessionId: string; token: string } | null> {
  const token = newToken();
  const sessionId = crypto.randomUUID();
  const inserted = await db.execute(sql`
    with usr as (
      select ${users.id} as id from ${users} where ${users.id} = ${userId}::uuid and ${users.bannedAt} is null
      for share
    ), ses as (
      insert into ${sessions} (id, user_id) select ${sessionId}::uuid, id from usr returning id, user_id
    )
    insert into ${refreshTokens} (user_id, family_id, token_hash, expires_at)
    select user_id, id, ${await sha256(token)}, ${expiry()}::timestamptz from ses
    returning id`);
  return inserted.rows.length > 0 ? { sessionId, token } : null;
}

export type RotateResult =
  | { ok: true; userId: string; sessionId: string; token: string }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "banned" }
  | { ok: false; reason: "reused"; userId: string; sessionId: string };

/**
 * Marks the presented token used and issues its successor in one statement: the conditional UPDATE's row
 * lock lets exactly one of several concurrent refreshes with one token claim it (the others re-check
 * `used_at` after the winner commits and claim nothing), and the claim requires the session to be live.
 * A refused claim is then classified from a fresh read; a replay is reported for the caller to revoke.
 */
export async function rotateRefreshToken(db: Db, token: string): Promise<RotateResult> {
  const hash = await sha256(token);
  const next = newToken();
  const { rows } = await db.execute<{ user_id: string; family_id: string; issued: boolean }>(sql`
    with claimed as (
      update ${refreshTokens} t set used_at = now()
      where t.token_hash = ${hash} and t.used_at is null and t.revoked_at is null and t.expires_at > now()
        and exists (select 1 from ${sessions} s where s.id = t.family_id and s.revoked_at is null)
      returning t.user_id, t.family_id
    ), usr as (
      select c.user_id, c.family_id from claimed c join ${users} u on u.id = c.user_id
      where u.banned_at is null
      for share of u
    ), issued as (
      insert into ${refreshTokens} (user_id, family_id, token_hash, expires_at)
      select user_id, family_id, ${await sha256(next)}, ${expiry()}::timestamptz from usr
      returning id
    )
    select c.user_id, c.family_id, exists (select 1 from issued) as issued from claimed c`);
  const claimed = rows[0];
  if (claimed) {
    if (!claimed.issued) return { ok: false, reason: "banned" };
    return { ok: true, userId: claimed.user_id, sessionId: claimed.family_id, token: next };
  }
  const [row] = await db
    .select({
      userId: refreshTokens.userId,
      familyId: refreshTokens.familyId,
      usedAt: refreshTokens.usedAt,
      revokedAt: refreshTokens.revokedAt,
      expiresAt: refreshTokens.expiresAt,
      sessionRevokedAt: sessions.revokedAt,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.familyId))
    .where(eq(refreshTokens.tokenHash, hash))
    .limit(1);
  if (!row) return { ok: false, reason: "unknown" };
  // A used token is a replay even when the session is already revoked: the caller revokes it again
  // (idempotent), so the session's end also reaches the fast path in Redis.
  if (row.usedAt) return { ok: false, reason: "reused", userId: row.userId, sessionId: row.familyId };
  if (row.revokedAt || row.sessionRevokedAt) return { ok: false, reason: "revoked" };
  return { ok: false, reason: "expired" };
}

/** The session of a presented refresh token (for logout), or null if the token is unknown. */
export async function sessionOf(db: Db, token: string): Promise<{ sessionId: string; userId: string } | null> {
  const [row] = await db
    .select({ sessionId: refreshTokens.familyId, userId: refreshTokens.userId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, await sha256(token)))
    .limit(1);
  return row ?? null;
}
