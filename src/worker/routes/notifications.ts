import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { createDb } from "../../db/client";
import { notificationSettings, notifications, pushSubscriptions } from "../../db/notification-schema";
import { roomMembers } from "../../db/schema";
import { endpointProblem } from "../../lib/endpoint-policy";
import { AppError } from "../../protocol/errors";
import { markReadBody, notificationsQuery, pushSubscriptionBody, settingsPatch } from "../../protocol/notifications";
import {
  markedReadReply,
  notificationsReply,
  settingsReply,
  subscribedReply,
  vapidKeyReply,
} from "../../protocol/responses/notifications";
import { decodeCursor, encodeCursor } from "../cursor";
import { notificationsChangedFor } from "../inbox";
import { requireUser } from "../middleware/auth";
import { notifyConfig } from "../notify/config";
import { subscriptionKeyProblem } from "../notify/push";
import { loadViews, unreadFor } from "../notify/views";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const notificationRoutes = new Hono<AppEnv>();
notificationRoutes.use("/api/notifications", requireUser);
notificationRoutes.use("/api/notifications/*", requireUser);
notificationRoutes.use("/api/me/*", requireUser);
notificationRoutes.use("/api/push/subscriptions", requireUser);
notificationRoutes.use("/api/push/subscriptions/*", requireUser);

const invalid = (field: string, message: string) =>
  new AppError(400, "validation_failed", "Some fields are invalid", { details: [{ field, message }] });

/** In-app notifications, newest first; pending digests included and kept up to date. */
const listNotifications = defineRoute({
  method: "get",
  path: "/api/notifications",
  summary: "My in-app notifications, newest first (digests still open included)",
  tag: "notifications",
  query: notificationsQuery,
  responses: { 200: { description: "Notifications, unread count, next cursor", schema: notificationsReply } },
});
handle(notificationRoutes, listNotifications, async (c, { query: q }) => {
  const me = c.get("userId");
  const after = decodeCursor(q.cursor);
  const db = createDb(c.env);
  const [rows, [count]] = await Promise.all([
    loadViews(
      db,
      and(
        eq(notifications.userId, me),
        eq(notifications.inApp, true),
        q.unread === "true" ? isNull(notifications.readAt) : undefined,
        after
          ? sql`(${notifications.createdAt}, ${notifications.id}) < (${after.at}::timestamptz, ${after.id}::uuid)`
          : undefined,
      ),
      { limit: q.limit + 1 },
    ),
    db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(unreadFor(me)),
  ]);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return c.json({
    notifications: page.map(({ userId: _, ...view }) => view),
    unread: count?.n ?? 0,
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null,
  });
});

const markRead = defineRoute({
  method: "post",
  path: "/api/notifications/read",
  summary: "Mark notifications read: some ids, or all",
  tag: "notifications",
  body: markReadBody,
  responses: { 200: { description: "How many changed, and the unread count", schema: markedReadReply } },
});
handle(notificationRoutes, markRead, async (c, { body }) => {
  const me = c.get("userId");
  const db = createDb(c.env);
  const updated = await db
    .update(notifications)
    .set({ readAt: sql`now()` })
    .where(and(unreadFor(me), "ids" in body ? inArray(notifications.id, body.ids) : undefined))
    .returning({ id: notifications.id });
  const [count] = await db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(unreadFor(me));
  // Inbox hook (issue 25): the count clears on every device of mine.
  if (updated.length > 0) await notificationsChangedFor(c.env, [me]);
  return c.json({ updated: updated.length, unread: count?.n ?? 0 });
});

async function settingsView(c: { env: AppEnv["Bindings"] }, userId: string) {
  const db = createDb(c.env);
  const [[s], muted] = await db.batch([
    db.select().from(notificationSettings).where(eq(notificationSettings.userId, userId)).limit(1),
    db
      .select({ roomId: roomMembers.roomId, until: roomMembers.mutedUntil })
      .from(roomMembers)
      .where(and(eq(roomMembers.userId, userId), sql`${roomMembers.mutedUntil} > now()`)),
  ]);
  return {
    channels: { inApp: s?.inApp ?? true, webhook: s?.webhook ?? true, push: s?.push ?? true },
    webhookUrl: s?.webhookUrl ?? null,
    // Shown only to its owner: it is what their receiver verifies signatures with.
    webhookSecret: s?.webhookSecret ?? null,
    mutedRooms: muted.map((m) => ({ roomId: m.roomId, until: m.until?.toISOString() ?? null })),
  };
}

const getSettings = defineRoute({
  method: "get",
  path: "/api/me/notification-settings",
  summary: "My channels, personal webhook and muted rooms",
  tag: "notifications",
  responses: { 200: { description: "My settings", schema: settingsReply } },
});
handle(notificationRoutes, getSettings, async (c) => {
  return c.json({ settings: await settingsView(c, c.get("userId")) });
});

const updateSettings = defineRoute({
  method: "patch",
  path: "/api/me/notification-settings",
  summary: "Turn channels on or off, set my webhook, mute rooms until a time",
  tag: "notifications",
  body: settingsPatch,
  responses: { 200: { description: "My settings", schema: settingsReply } },
});
handle(notificationRoutes, updateSettings, async (c, { body }) => {
  const me = c.get("userId");
  const cfg = notifyConfig(c.env);
  const db = createDb(c.env);
  if (body.webhookUrl) {
    const problem = endpointProblem(body.webhookUrl, cfg.allowLoopback);
    if (problem) throw invalid("webhookUrl", problem);
  }
  if (body.mute) {
    const ids = [...new Set(body.mute.map((m) => m.roomId))];
    const mine = await db
      .select({ roomId: roomMembers.roomId })
      .from(roomMembers)
      .where(and(eq(roomMembers.userId, me), inArray(roomMembers.roomId, ids)));
    // Muting a room you are not in reads exactly like muting one that does not exist.
    if (mine.length !== ids.length) throw new AppError(404, "not_found", "Room not found");
  }
  const [current] = await db
    .select({ webhookUrl: notificationSettings.webhookUrl })
    .from(notificationSettings)
    .where(eq(notificationSettings.userId, me))
    .limit(1);
  const changes: Partial<typeof notificationSettings.$inferInsert> = { ...body.channels };
  if (body.webhookUrl !== undefined && body.webhookUrl !== (current?.webhookUrl ?? null)) {
    changes.webhookUrl = body.webhookUrl;
    changes.webhookSecret = body.webhookUrl ? newSecret() : null;
  }
  await db.batch([
    db
      .insert(notificationSettings)
      .values({ userId: me, ...changes })
      .onConflictDoUpdate({ target: notificationSettings.userId, set: { ...changes, updatedAt: sql`now()` } }),
    ...(body.mute ?? []).map((m) =>
      db
        .update(roomMembers)
        .set({ mutedUntil: m.until ? new Date(m.until) : null })
        .where(and(eq(roomMembers.userId, me), eq(roomMembers.roomId, m.roomId))),
    ),
  ]);
  return c.json({ settings: await settingsView(c, me) });
});

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "")}`;
}

/** The VAPID public key browsers pass to `pushManager.subscribe({ applicationServerKey })`. */
const vapidKey = defineRoute({
  method: "get",
  path: "/api/push/vapid-public-key",
  summary: "The VAPID key to subscribe with (applicationServerKey)",
  tag: "notifications",
  auth: "none",
  responses: { 200: { description: "The public key", schema: vapidKeyReply } },
});
handle(notificationRoutes, vapidKey, (c) => {
  const { vapid } = notifyConfig(c.env);
  if (!vapid) throw new AppError(503, "unavailable", "Web Push is not configured on this deployment");
  return c.json({ publicKey: vapid.publicKey });
});

const subscribe = defineRoute({
  method: "post",
  path: "/api/push/subscriptions",
  summary: "Register this browser's Web Push subscription",
  tag: "notifications",
  body: pushSubscriptionBody,
  responses: { 201: { description: "The subscription", schema: subscribedReply } },
});
handle(notificationRoutes, subscribe, async (c, { body }) => {
  const cfg = notifyConfig(c.env);
  if (!cfg.vapid) throw new AppError(503, "unavailable", "Web Push is not configured on this deployment");
  const endpoint = endpointProblem(body.endpoint, cfg.allowLoopback);
  if (endpoint) throw invalid("endpoint", endpoint);
  const keys = await subscriptionKeyProblem(body.keys);
  if (keys) throw invalid("keys", keys);
  const me = c.get("userId");
  const values = {
    userId: me,
    endpoint: body.endpoint,
    p256dh: body.keys.p256dh,
    auth: body.keys.auth,
    expiresAt: body.expirationTime ? new Date(body.expirationTime) : null,
  };
  // An endpoint is one browser profile's subscription, so it stays one row: a device where a second
  // account logs in must not keep notifying the first. That row may move to another user only when the
  // request carries the subscription's own keys (the auth secret exists only in that browser and here),
  // which is what a re-login on the same device sends; knowing the endpoint URL alone is not enough, so
  // nobody can take over, silence or redirect someone else's subscription. One statement, so a
  // concurrent registration cannot slip between a check and the write.
  const [row] = await createDb(c.env)
    .insert(pushSubscriptions)
    .values(values)
    .onConflictDoUpdate({
      target: pushSubscriptions.endpoint,
      set: values,
      setWhere: sql`${pushSubscriptions.userId} = ${me} or (${pushSubscriptions.p256dh} = ${values.p256dh} and ${pushSubscriptions.auth} = ${values.auth})`,
    })
    .returning({ id: pushSubscriptions.id, createdAt: pushSubscriptions.createdAt });
  if (!row) {
    // The client's way out is the browser's own: unsubscribe and subscribe again for a fresh endpoint.
    throw new AppError(409, "conflict", "This push endpoint is registered with other keys; subscribe again");
  }
  return c.json({ subscription: { id: row.id, endpoint: body.endpoint } }, 201);
});

const unsubscribe = defineRoute({
  method: "delete",
  path: "/api/push/subscriptions/:id",
  summary: "Remove a push subscription",
  tag: "notifications",
  // Not validated as a uuid: any id answers 204, so other users' subscriptions cannot be probed.
  params: z.object({ id: z.string().meta({ format: "uuid" }) }),
  responses: { 204: { description: "Removed (or never mine)" } },
});
handle(notificationRoutes, unsubscribe, async (c, { params: { id } }) => {
  const me = c.get("userId");
  if (/^[0-9a-f-]{36}$/i.test(id)) {
    await createDb(c.env)
      .delete(pushSubscriptions)
      .where(and(eq(pushSubscriptions.id, id), eq(pushSubscriptions.userId, me)));
  }
  // Idempotent, and silent about other users' subscriptions.
  return c.body(null, 204);
});
