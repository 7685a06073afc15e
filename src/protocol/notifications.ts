/** Notification request bodies and queries, shared by REST routes, the OpenAPI document and clients. */
import { z } from "zod";

export const notificationsQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  unread: z.enum(["true", "false"]).optional(),
});

export const markReadBody = z.union([
  z.strictObject({ ids: z.array(z.uuid()).min(1).max(500) }),
  z.strictObject({ all: z.literal(true) }),
]);

const endpointUrl = z.url({ protocol: /^https?$/ }).max(2048);

export const settingsPatch = z
  .strictObject({
    channels: z
      .strictObject({ inApp: z.boolean().optional(), webhook: z.boolean().optional(), push: z.boolean().optional() })
      .optional(),
    /** The user's own webhook; null removes it. A new secret is generated whenever the URL changes. */
    webhookUrl: endpointUrl.nullable().optional(),
    /** Mute rooms until a time (null unmutes). */
    mute: z
      .array(z.strictObject({ roomId: z.uuid(), until: z.iso.datetime({ offset: true }).nullable() }))
      .min(1)
      .max(100)
      .optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "send at least one field");

/** What `PushSubscription.toJSON()` gives in a browser. */
export const pushSubscriptionBody = z.object({
  endpoint: endpointUrl,
  expirationTime: z.number().nullable().optional(),
  keys: z.object({ p256dh: z.string().min(1).max(200), auth: z.string().min(1).max(100) }),
});
