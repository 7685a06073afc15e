import { z } from "zod";

/** Recipients per job: keeps one job small while a 1,000-member room needs 10 jobs per message, not 1,000. */
export const MAX_RECIPIENTS_PER_JOB = 100;

/**
 * Offline members to tell about one message. Delivery is per recipient and deduplicated downstream by
 * `dedupeKey(roomId, seq, userId)`, so a job delivered (or retried) twice notifies nobody twice.
 */
export const notificationJob = z.strictObject({
  kind: z.literal("message"),
  roomId: z.uuid(),
  seq: z.number().int().positive(),
  senderId: z.uuid(),
  recipients: z.array(z.uuid()).min(1).max(MAX_RECIPIENTS_PER_JOB),
  requestId: z.string().optional(),
});
export type NotificationJob = z.infer<typeof notificationJob>;

export function dedupeKey(roomId: string, seq: number, userId: string): string {
  return `${roomId}:${seq}:${userId}`;
}
