import { z } from "zod";

/** Recipients per job: keeps one job small while a 1,000-member room needs 10 jobs per message, not 1,000. */
export const MAX_RECIPIENTS_PER_JOB = 100;

/**
 * Offline members to tell about one message (queued by the room after Postgres has the message).
 * Deduplicated per recipient by `dedupeKey(roomId, seq, userId)` in Postgres, so a job delivered (or
 * retried) twice notifies nobody twice.
 */
export const messageJob = z.strictObject({
  kind: z.literal("message"),
  roomId: z.uuid(),
  seq: z.number().int().positive(),
  senderId: z.uuid(),
  recipients: z.array(z.uuid()).min(1).max(MAX_RECIPIENTS_PER_JOB),
  requestId: z.string().optional(),
});
export type MessageJob = z.infer<typeof messageJob>;

/** A notification whose window has passed: freeze it and queue one delivery per channel target. */
export const flushJob = z.strictObject({ kind: z.literal("flush"), notificationId: z.uuid() });
export type FlushJob = z.infer<typeof flushJob>;

/**
 * One notification to one target: the deployment webhook, the user's own webhook, or one push
 * subscription. Retried on its own, so a slow receiver never holds back the others.
 */
export const deliveryTarget = z.union([
  z.literal("webhook:deployment"),
  z.literal("webhook:user"),
  z.templateLiteral(["push:", z.uuid()]),
  // Integrations (issue 27): a registered phone, through FCM or APNs.
  z.templateLiteral(["fcm:", z.uuid()]),
  z.templateLiteral(["apns:", z.uuid()]),
]);
export type DeliveryTarget = z.infer<typeof deliveryTarget>;
export const deliverJob = z.strictObject({
  kind: z.literal("deliver"),
  notificationId: z.uuid(),
  target: deliveryTarget,
});
export type DeliverJob = z.infer<typeof deliverJob>;

// --- Integrations (issue 27): product events for admins' webhook endpoints ---

/**
 * Queued by a room's write-through when it wrote changes to room_changes (and some endpoint is enabled):
 * turn the room's changes not yet turned into events (from its cursor, so jobs arriving out of order or
 * twice change nothing) into events and deliveries. The versions are where a new cursor starts.
 */
export const roomEventsJob = z.strictObject({
  kind: z.literal("events.room"),
  roomId: z.uuid(),
  fromVersion: z.number().int().positive(),
  toVersion: z.number().int().positive(),
});
export type RoomEventsJob = z.infer<typeof roomEventsJob>;

/** Lifecycle events the database triggers recorded (users, rooms created or deleted, reports): fan them out. */
export const dispatchEventsJob = z.strictObject({ kind: z.literal("events.dispatch") });

/** Send one endpoint's pending events of one stream (a room's, or "deployment"), in order. */
export const drainWebhookJob = z.strictObject({
  kind: z.literal("webhook.drain"),
  endpointId: z.uuid(),
  stream: z.string().min(1).max(64),
});
export type DrainWebhookJob = z.infer<typeof drainWebhookJob>;

// --- Integrations (issue 27): data rights ---

/** Build a data export too large to build within its request. */
export const buildExportJob = z.strictObject({ kind: z.literal("export.build"), exportId: z.uuid() });

/** Finish deleting an account (tokens were revoked and sockets closed when it was asked for). */
export const eraseAccountJob = z.strictObject({ kind: z.literal("account.erase"), userId: z.uuid() });

export const queueJob = z.discriminatedUnion("kind", [
  messageJob,
  flushJob,
  deliverJob,
  roomEventsJob,
  dispatchEventsJob,
  drainWebhookJob,
  buildExportJob,
  eraseAccountJob,
]);
export type QueueJob = z.infer<typeof queueJob>;

export function dedupeKey(roomId: string, seq: number, userId: string): string {
  return `${roomId}:${seq}:${userId}`;
}
