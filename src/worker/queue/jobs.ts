import { z } from "zod";

/** One offline member to tell about one message. The dedupe key makes redelivery harmless downstream. */
export const notificationJob = z.strictObject({
  kind: z.literal("message"),
  roomId: z.uuid(),
  seq: z.number().int().positive(),
  userId: z.uuid(),
  senderId: z.uuid(),
  dedupeKey: z.string().min(1),
  requestId: z.string().optional(),
});
export type NotificationJob = z.infer<typeof notificationJob>;

export function dedupeKey(roomId: string, seq: number, userId: string): string {
  return `${roomId}:${seq}:${userId}`;
}
