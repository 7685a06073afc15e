/**
 * What operators see when jobs fail: the last error of a job still being retried (queue_failures) and
 * every job that will never run again (dead_letters), with the reason.
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { deadLetters, queueFailures } from "../../db/notification-schema";

const MAX_ERROR_CHARS = 1000;

export async function recordFailure(db: Db, msg: Message<unknown>, queue: string, error: string): Promise<void> {
  const lastError = error.slice(0, MAX_ERROR_CHARS);
  await db
    .insert(queueFailures)
    .values({ messageId: msg.id, queue, lastError, attempts: msg.attempts })
    .onConflictDoUpdate({
      target: queueFailures.messageId,
      set: { lastError, attempts: msg.attempts, updatedAt: sql`now()` },
    });
}

export async function clearFailure(db: Db, messageId: string): Promise<void> {
  await db.delete(queueFailures).where(eq(queueFailures.messageId, messageId));
}

/**
 * Idempotent by message id (a DLQ message delivered twice is one record). `reason` wins over the
 * recorded last error when given; otherwise the last error recorded while retrying is used.
 */
export async function recordDeadLetter(
  db: Db,
  msg: Message<unknown>,
  queue: string,
  reason: string | null,
): Promise<void> {
  const [failure] = await db.select().from(queueFailures).where(eq(queueFailures.messageId, msg.id)).limit(1);
  await db.batch([
    db
      .insert(deadLetters)
      .values({
        messageId: msg.id,
        queue,
        body: msg.body ?? null,
        reason: (reason ?? failure?.lastError ?? "retries exhausted").slice(0, MAX_ERROR_CHARS),
        attempts: failure?.attempts ?? msg.attempts,
      })
      .onConflictDoNothing({ target: deadLetters.messageId }),
    db.delete(queueFailures).where(eq(queueFailures.messageId, msg.id)),
  ]);
}
