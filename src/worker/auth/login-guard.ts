/**
 * Failed sign-ins per account, whatever address they come from (the per-address limit is the REST rate
 * limiter's). Keyed by the lower-cased email, known account or not, so an unknown email is answered
 * exactly as a known one. Postgres only: it holds with Redis down.
 *
 * Every attempt is charged before its password is checked, in one statement that also reads the account's
 * lock, so parallel guesses cannot all slip past the check: the first LOGIN_FREE_FAILURES cost nothing;
 * each one after that locks the account for LOGIN_LOCK_BASE_MS, doubling per failure (1 s, 2 s, 4 s …) up
 * to LOGIN_LOCK_MAX_SECONDS. While locked every sign-in to the account, right password or not, is a 429
 * with Retry-After, and such refused attempts are not counted (they cannot lengthen the lock). A right
 * password clears the record; so do LOGIN_FAILURE_MEMORY_SECONDS without a failure.
 *
 * The worst an attacker can do to an account (docs/decisions.md, "Failed sign-ins per account"): keep it
 * locked for at most LOGIN_LOCK_MAX_SECONDS at a time, by sending one wrong password each time a lock ends.
 * Sessions already signed in (refresh tokens) are not affected.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { loginAttempts } from "../../db/moderation-schema";
import { positiveSetting, wholeSetting } from "../../lib/config";
import { AppError } from "../../protocol/errors";
import type { Bindings } from "../types";

export interface LoginGuardSettings {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  memoryMs: number;
}

export function loginGuardSettings(env: Bindings): LoginGuardSettings {
  return {
    freeFailures: wholeSetting(env, "LOGIN_FREE_FAILURES"),
    baseDelayMs: positiveSetting(env, "LOGIN_LOCK_BASE_MS"),
    maxDelayMs: positiveSetting(env, "LOGIN_LOCK_MAX_SECONDS") * 1000,
    memoryMs: positiveSetting(env, "LOGIN_FAILURE_MEMORY_SECONDS") * 1000,
  };
}

/** The account key: the email as typed, trimmed and lower-cased. */
export function accountKey(email: string): string {
  return email.trim().toLowerCase();
}

/** How long the account waits after its `failures`-th failure, in ms (0: no wait). */
export function lockDelayMs(failures: number, s: LoginGuardSettings): number {
  if (failures <= s.freeFailures) return 0;
  return Math.min(s.baseDelayMs * 2 ** Math.min(failures - s.freeFailures - 1, 40), s.maxDelayMs);
}

/**
 * Charges one attempt to the account (as a failure, until the password proves otherwise), unless it is
 * locked. Unawaited, so it can share a round trip with the account lookup in `db.batch`. Answers one row:
 * `charged` false means the account is locked for `retryAfterMs` more and this attempt must be refused.
 */
export function chargeAttempt(db: Db, key: string, s: LoginGuardSettings) {
  const t = loginAttempts;
  const locked = sql`(${t.lockedUntil} is not null and ${t.lockedUntil} > now())`;
  const forgotten = sql`(${t.lastFailedAt} is null or ${t.lastFailedAt} < now() - ${s.memoryMs}::bigint * interval '1 millisecond')`;
  const failures = sql`(case when ${forgotten} then 1 else ${t.failures} + 1 end)`;
  const lockFor = (n: ReturnType<typeof sql>) =>
    sql`(case when ${n} > ${s.freeFailures}::int
      then now() + least(${s.baseDelayMs}::bigint * power(2::numeric, least(${n} - ${s.freeFailures}::int - 1, 40)), ${s.maxDelayMs}::bigint) * interval '1 millisecond'
      else null end)`;
  return db
    .insert(t)
    .values({ emailKey: key, failures: 1, lockedUntil: lockFor(sql`1`), lastFailedAt: sql`now()` })
    .onConflictDoUpdate({
      target: t.emailKey,
      set: {
        failures: sql`case when ${locked} then ${t.failures} else ${failures} end`,
        lockedUntil: sql`case when ${locked} then ${t.lockedUntil} else ${lockFor(failures)} end`,
        lastFailedAt: sql`case when ${locked} then ${t.lastFailedAt} else now() end`,
      },
    })
    .returning({
      // now() is the statement's transaction time: equal only if this statement wrote the row.
      charged: sql<boolean>`${t.lastFailedAt} = now()`,
      retryAfterMs: sql<number>`greatest(0, ceil(extract(epoch from (coalesce(${t.lockedUntil}, now()) - now())) * 1000))::int`,
    });
}

/**
 * Deletes records nothing depends on any more: no wait in force and no failure within the memory window
 * (guesses at made-up emails would otherwise leave rows forever). For the hourly cron; returns how many.
 */
export async function sweepLoginAttempts(db: Db, s: LoginGuardSettings): Promise<number> {
  const gone = await db
    .delete(loginAttempts)
    .where(
      sql`${loginAttempts.lastFailedAt} < now() - ${s.memoryMs}::bigint * interval '1 millisecond'
        and (${loginAttempts.lockedUntil} is null or ${loginAttempts.lockedUntil} < now())`,
    )
    .returning({ key: loginAttempts.emailKey });
  return gone.length;
}

/** A right password: the account starts over. */
export async function clearFailures(db: Db, key: string): Promise<void> {
  await db.delete(loginAttempts).where(sql`${loginAttempts.emailKey} = ${key}`);
}

/** The refusal while an account is locked: the same for every account, known or not. */
export function accountLocked(retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError(429, "throttled", "Too many failed sign-ins for this account; try again later", {
    details: { limit: "account", retryAfterSeconds: seconds },
    headers: { "Retry-After": String(seconds) },
  });
}
