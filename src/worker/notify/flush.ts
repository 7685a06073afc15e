/**
 * A notification that is due: freeze it (a digest stops absorbing messages; the next one opens a new
 * digest), then queue one delivery job per target. A short lease makes one copy of the flush do this when
 * several run at once; dispatched_at is set only after the jobs are queued, so a flush that dies half way
 * is redone once its lease runs out. Deliveries are deduplicated per target on top of that.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { pushDevices } from "../../db/integration-schema";
import { notificationSettings, notifications, pushSubscriptions } from "../../db/notification-schema";
import type { DeliverJob, DeliveryTarget, FlushJob } from "../../protocol/jobs";
import type { NotifyConfig } from "./config";

export type FlushOutcome = { done: true } | { notDueForSeconds: number };

const LEASE_SECONDS = 30;

export async function flushNotification(db: Db, cfg: NotifyConfig, queue: Queue, id: string): Promise<FlushOutcome> {
  const [claimed] = await db
    .update(notifications)
    .set({
      deliveredAt: sql`coalesce(${notifications.deliveredAt}, now())`,
      dispatchLeaseUntil: sql`now() + ${LEASE_SECONDS} * interval '1 second'`,
    })
    .where(
      and(
        eq(notifications.id, id),
        isNull(notifications.dispatchedAt),
        sql`${notifications.deliverAt} <= now()`,
        sql`(${notifications.dispatchLeaseUntil} is null or ${notifications.dispatchLeaseUntil} < now())`,
      ),
    )
    .returning({ userId: notifications.userId });
  if (!claimed) return notClaimed(db, id);

  const [settings, subscriptions, devices] = await db.batch([
    db.select().from(notificationSettings).where(eq(notificationSettings.userId, claimed.userId)).limit(1),
    db.select({ id: pushSubscriptions.id }).from(pushSubscriptions).where(eq(pushSubscriptions.userId, claimed.userId)),
    db
      .select({ id: pushDevices.id, platform: pushDevices.platform })
      .from(pushDevices)
      .where(eq(pushDevices.userId, claimed.userId)),
  ]);
  const targets = deliveryTargets(cfg, settings[0] ?? null, subscriptions, devices);
  const jobs: MessageSendRequest<DeliverJob>[] = targets.map((target) => ({
    body: { kind: "deliver", notificationId: id, target },
  }));
  for (let i = 0; i < jobs.length; i += 100) await queue.sendBatch(jobs.slice(i, i + 100));
  await db.update(notifications).set({ dispatchedAt: sql`now()` }).where(eq(notifications.id, id));
  return { done: true };
}

/** Why the claim failed: gone or dispatched (done), not due yet, or another copy holds the lease. */
async function notClaimed(db: Db, id: string): Promise<FlushOutcome> {
  const [row] = await db
    .select({
      dispatched: sql<boolean>`${notifications.dispatchedAt} is not null`,
      waitSeconds: sql<number>`greatest(1, ceil(extract(epoch from
        greatest(${notifications.deliverAt}, coalesce(${notifications.dispatchLeaseUntil}, ${notifications.deliverAt})) - now())))::int`,
    })
    .from(notifications)
    .where(eq(notifications.id, id))
    .limit(1);
  if (!row || row.dispatched) return { done: true };
  return { notDueForSeconds: row.waitSeconds };
}

export function deliveryTargets(
  cfg: NotifyConfig,
  settings: { webhook: boolean; push: boolean; webhookUrl: string | null } | null,
  subscriptions: { id: string }[],
  devices: { id: string; platform: "fcm" | "apns" }[] = [],
): DeliveryTarget[] {
  const webhookOn = settings?.webhook ?? true;
  const pushOn = settings?.push ?? true;
  const targets: DeliveryTarget[] = [];
  if (webhookOn && cfg.webhookUrl) targets.push("webhook:deployment");
  if (webhookOn && settings?.webhookUrl) targets.push("webhook:user");
  if (pushOn && cfg.vapid) for (const s of subscriptions) targets.push(`push:${s.id}`);
  // Integrations (issue 27): phones, on the platforms this deployment has credentials for.
  for (const d of pushOn ? devices : []) if (cfg.mobile?.[d.platform]) targets.push(`${d.platform}:${d.id}`);
  return targets;
}

/** A flush job for each notification, delayed until it is due. */
export async function queueFlushes(queue: Queue, due: { id: string; dueInSeconds: number }[]): Promise<void> {
  const jobs: MessageSendRequest<FlushJob>[] = due.map((n) => ({
    body: { kind: "flush", notificationId: n.id },
    // Queues cap a delay at 12 hours; a digest window is far shorter.
    ...(n.dueInSeconds > 0 ? { delaySeconds: Math.min(n.dueInSeconds, 43_200) } : {}),
  }));
  for (let i = 0; i < jobs.length; i += 100) await queue.sendBatch(jobs.slice(i, i + 100));
}
