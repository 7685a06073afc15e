/**
 * One notification to one target. Already delivered (a redelivered job): nothing happens. The receiver
 * failing or timing out throws a RetryableError, so the queue retries with backoff and finally dead-letters
 * it; a receiver saying the request itself is wrong throws a PermanentError, dead-lettered at once.
 */
import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { notificationDeliveries, notificationSettings, pushSubscriptions } from "../../db/notification-schema";
import { users } from "../../db/schema";
import { endpointProblem } from "../../lib/endpoint-policy";
import { logJson } from "../../lib/log";
import type { DeliverJob } from "../../protocol/jobs";
import { pushToDevice } from "../integrations/push/devices";
import type { NotifyConfig } from "./config";
import { sendPush } from "./push";
import { loadView, type NotificationView } from "./views";
import { postWebhook } from "./webhook";

export class RetryableError extends Error {}
export class PermanentError extends Error {}

export async function deliverNotification(db: Db, cfg: NotifyConfig, job: DeliverJob): Promise<void> {
  const [done] = await db
    .select({ status: notificationDeliveries.status })
    .from(notificationDeliveries)
    .where(
      and(eq(notificationDeliveries.notificationId, job.notificationId), eq(notificationDeliveries.target, job.target)),
    )
    .limit(1);
  if (done) return;
  const view = await loadView(db, job.notificationId);
  if (!view) return;
  // Banned after the notification was written: tell them nothing more.
  const [user] = await db.select({ bannedAt: users.bannedAt }).from(users).where(eq(users.id, view.userId)).limit(1);
  if (!user || user.bannedAt) return;

  const status = job.target.startsWith("push:")
    ? await toPush(db, cfg, view, job.target.slice("push:".length))
    : job.target.startsWith("fcm:") || job.target.startsWith("apns:")
      ? await toDevice(db, cfg, view, job.target as `fcm:${string}` | `apns:${string}`)
      : await toWebhook(db, cfg, view, job);
  if (status === null) return;
  await db
    .insert(notificationDeliveries)
    .values({ notificationId: job.notificationId, target: job.target, status })
    .onConflictDoNothing();
}

/** Returns the receiver's status, or null when there is nowhere to send any more (nothing to record). */
async function toWebhook(db: Db, cfg: NotifyConfig, view: NotificationView, job: DeliverJob): Promise<number | null> {
  let url: string | null = cfg.webhookUrl;
  let secret = cfg.webhookSecret;
  if (job.target === "webhook:user") {
    const [s] = await db
      .select({ url: notificationSettings.webhookUrl, secret: notificationSettings.webhookSecret })
      .from(notificationSettings)
      .where(eq(notificationSettings.userId, view.userId))
      .limit(1);
    url = s?.url ?? null;
    secret = s?.secret ?? "";
  }
  if (!url || !secret) return null;
  const problem = endpointProblem(url, cfg.allowLoopback);
  if (problem) throw new PermanentError(`webhook URL ${problem}`);
  const deliveryId = `${view.id}:${job.target}`;
  let res: Response;
  try {
    res = await postWebhook(
      url,
      secret,
      deliveryId,
      { type: "notification", deliveryId, notification: view },
      cfg.webhookTimeoutMs,
    );
  } catch (err) {
    throw new RetryableError(`webhook call failed: ${(err as Error).message}`);
  }
  if (res.ok) return res.status;
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    throw new RetryableError(`webhook receiver answered ${res.status}`);
  }
  throw new PermanentError(`webhook receiver refused with ${res.status}`);
}

/** Integrations (issue 27): a phone through FCM or APNs; a token the service calls dead is removed. */
async function toDevice(
  db: Db,
  cfg: NotifyConfig,
  view: NotificationView,
  target: `fcm:${string}` | `apns:${string}`,
): Promise<number | null> {
  const outcome = await pushToDevice(db, cfg.mobile, view, target, cfg.webhookTimeoutMs);
  switch (outcome?.kind) {
    case undefined:
    case "invalid-token":
      return null;
    case "sent":
      return outcome.status;
    case "retry":
      throw new RetryableError(outcome.reason);
    case "permanent":
      throw new PermanentError(outcome.reason);
  }
}

async function toPush(
  db: Db,
  cfg: NotifyConfig,
  view: NotificationView,
  subscriptionId: string,
): Promise<number | null> {
  if (!cfg.vapid) return null;
  // The job names a subscription; it must still be this user's and unexpired, or the notification could
  // reach a browser that another account has since registered the same endpoint from.
  const [sub] = await db
    .select()
    .from(pushSubscriptions)
    .where(
      and(
        eq(pushSubscriptions.id, subscriptionId),
        eq(pushSubscriptions.userId, view.userId),
        or(isNull(pushSubscriptions.expiresAt), gt(pushSubscriptions.expiresAt, sql`now()`)),
      ),
    )
    .limit(1);
  if (!sub) return null;
  // Checked again at send time: the rules may have tightened since the browser subscribed.
  const problem = endpointProblem(sub.endpoint, cfg.allowLoopback);
  if (problem) throw new PermanentError(`push endpoint ${problem}`);
  let res: Response;
  try {
    res = await sendPush(
      sub,
      cfg.vapid,
      {
        id: view.id,
        kind: view.kind,
        roomId: view.roomId,
        title: view.roomName ?? "edgechat",
        body: view.text,
        preview: view.preview,
        lastSeq: view.lastSeq,
      },
      {
        urgency: view.kind === "digest" ? "normal" : "high",
        // One topic per room: a newer digest replaces an undelivered older one at the push service.
        topic: view.roomId.replaceAll("-", ""),
        timeoutMs: cfg.webhookTimeoutMs,
      },
    );
  } catch (err) {
    throw new RetryableError(`push failed: ${(err as Error).message}`);
  }
  if (res.ok) return res.status;
  if (res.status === 404 || res.status === 410) {
    // The browser unsubscribed or the subscription expired: it will never work again.
    await db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, subscriptionId));
    logJson("info", { msg: "push subscription removed", subscriptionId, status: res.status });
    return null;
  }
  if (res.status === 429 || res.status >= 500) throw new RetryableError(`push service answered ${res.status}`);
  throw new PermanentError(`push service refused with ${res.status}`);
}
