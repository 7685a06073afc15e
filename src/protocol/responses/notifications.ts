/** Answers of the notification, settings and Web Push routes. */
import { z } from "zod";
import { id, nextCursor, seq, timestamp } from "./common";

/** A notification as the in-app list shows it (webhook and push payloads carry the same view). */
export const notificationView = z.object({
  id,
  kind: z.enum(["digest", "mention", "direct"]),
  roomId: id,
  roomName: z.string().nullable(),
  roomKind: z.enum(["group", "direct"]),
  firstSeq: seq,
  lastSeq: seq,
  messageCount: z.number().int(),
  senders: z.array(z.object({ id, displayName: z.string() })),
  text: z.string(),
  preview: z.string(),
  /** Still absorbing new messages (a digest inside its window). */
  pending: z.boolean(),
  read: z.boolean(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const notificationsReply = z.object({
  notifications: z.array(notificationView),
  unread: z.number().int(),
  nextCursor,
});
export const markedReadReply = z.object({ updated: z.number().int(), unread: z.number().int() });

export const notificationSettings = z.object({
  channels: z.object({ inApp: z.boolean(), webhook: z.boolean(), push: z.boolean() }),
  webhookUrl: z.string().nullable(),
  /** What the user's webhook receiver verifies signatures with; shown only to its owner. */
  webhookSecret: z.string().nullable(),
  mutedRooms: z.array(z.object({ roomId: id, until: timestamp.nullable() })),
});
export const settingsReply = z.object({ settings: notificationSettings });

export const vapidKeyReply = z.object({ publicKey: z.string() });
export const subscribedReply = z.object({ subscription: z.object({ id, endpoint: z.string() }) });
