/**
 * Refresh tokens: 256 random bits handed to the client once, stored as a SHA-256 hash. Every use
 * rotates the token inside its family; a replayed (already used) token revokes the family, since it means
 * the token leaked. Logout revokes the family too.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { refreshTokens, users } from "../../db/schema";
import { base64url } from "./password";

export const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

async function sha256(text: string): Promise<string> {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Issues a token only while the user is not banned. The share lock on the user row orders this insert
 * against an admin's ban (which updates that row, then revokes the user's tokens in one transaction):
 * either the ban waits and then revokes this token too, or this insert waits and then sees the ban.
 * Returns null for a banned (or deleted) user.
 */
export async function issueRefreshToken(
  db: Db,
  userId: string,
  familyId: string = crypto.randomUUID(),
): Promise<string | null> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAt = new Date(Date.now() + REFRESH_TTL_SECONDS * 1000).toISOString();
  const inserted = await db.execute(sql`
    insert into ${refreshTokens} (user_id, family_id, token_hash, expires_at)
    select ${users.id}, ${familyId}::uuid, ${await sha256(token)}, ${expiresAt}::timestamptz
    from ${users} where ${users.id} = ${userId}::uuid and ${users.bannedAt} is null
    for share
    returning id`);
  return inserted.rows.length > 0 ? token : null;
}

export type RotateResult =
  | { ok: true; userId: string; token: string }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" | "banned" };

/** Marks the presented token used and issues its successor; one conditional UPDATE makes the race safe. */
export async function rotateRefreshToken(db: Db, token: string): Promise<RotateResult> {
  const hash = await sha256(token);
  const [row] = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash)).limit(1);
  if (!row) return { ok: false, reason: "unknown" };
  if (row.revokedAt) return { ok: false, reason: "revoked" };
  if (row.usedAt) {
    await revokeFamily(db, row.familyId);
    return { ok: false, reason: "reused" };
  }
  if (row.expiresAt.getTime() <= Date.now()) return { ok: false, reason: "expired" };
  const claimed = await db
    .update(refreshTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id });
  if (claimed.length === 0) {
    // Two requests raced with one token: the loser is a replay.
    await revokeFamily(db, row.familyId);
    return { ok: false, reason: "reused" };
  }
  const next = await issueRefreshToken(db, row.userId, row.familyId);
  if (!next) return { ok: false, reason: "banned" };
  return { ok: true, userId: row.userId, token: next };
}

export async function revokeFamily(db: Db, familyId: string): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}

/** The family of a presented token (for logout), or null if the token is unknown. */
export async function familyOf(db: Db, token: string): Promise<{ familyId: string; userId: string } | null> {
  const [row] = await db
    .select({ familyId: refreshTokens.familyId, userId: refreshTokens.userId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, await sha256(token)))
    .limit(1);
  return row ?? null;
}
