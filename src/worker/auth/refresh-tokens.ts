/**
 * Refresh tokens: 256 random bits handed to the client once, stored as a SHA-256 hash. Every use
 * rotates the token inside its family; a replayed (already used) token revokes the family, since it means
 * the token leaked. Logout revokes the family too.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../../db/client";
import { refreshTokens } from "../../db/schema";
import { base64url } from "./password";

export const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

async function sha256(text: string): Promise<string> {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export async function issueRefreshToken(
  db: Db,
  userId: string,
  familyId: string = crypto.randomUUID(),
): Promise<string> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  await db.insert(refreshTokens).values({
    userId,
    familyId,
    tokenHash: await sha256(token),
    expiresAt: new Date(Date.now() + REFRESH_TTL_SECONDS * 1000),
  });
  return token;
}

export type RotateResult =
  | { ok: true; userId: string; token: string }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" };

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
  return { ok: true, userId: row.userId, token: await issueRefreshToken(db, row.userId, row.familyId) };
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
