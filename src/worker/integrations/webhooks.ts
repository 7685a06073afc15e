/**
 * Sending product events to admins' endpoints. One `webhook.drain` job at a time per (endpoint, stream),
 * held by a lease, sends that stream's pending deliveries in order (a room's by version), signed like the
 * notification webhooks. Each delivery is retried on its own schedule (backoff doubling from
 * WEBHOOK_RETRY_BASE_SECONDS up to WEBHOOK_RETRY_MAX_SECONDS) and waits for nothing else but the earlier
 * events of its stream; after WEBHOOK_MAX_ATTEMPTS it becomes a dead letter of the endpoint and the stream
 * moves on. An endpoint that has failed without a single success for WEBHOOK_DISABLE_AFTER_SECONDS is
 * disabled and its pending deliveries become dead letters (replayable once it is re-enabled).
 * At least once: a call whose answer is lost is made again, with the same event id.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { integrationEvents, webhookDeliveries, webhookEndpoints } from "../../db/integration-schema";
import { positiveSetting, wholeSetting } from "../../lib/config";
import { endpointProblem } from "../../lib/endpoint-policy";
import { logJson } from "../../lib/log";
import type { DrainWebhookJob } from "../../protocol/jobs";
import { postWebhook } from "../notify/webhook";
import type { Bindings } from "../types";
import { type Drain, envelope, LEASE_SECONDS, type Requeue } from "./events";

/** Deliveries one job sends before handing over to a fresh job (and its own time budget). */
const PER_JOB = 50;
const TIME_BUDGET_MS = 25_000;
const MAX_ERROR_CHARS = 500;

export interface WebhookConfig {
  maxAttempts: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  disableAfterSeconds: number;
  timeoutMs: number;
  allowLoopback: boolean;
}

export function webhookConfig(env: Bindings): WebhookConfig {
  return {
    maxAttempts: positiveSetting(env, "WEBHOOK_MAX_ATTEMPTS"),
    retryBaseSeconds: wholeSetting(env, "WEBHOOK_RETRY_BASE_SECONDS"),
    retryMaxSeconds: positiveSetting(env, "WEBHOOK_RETRY_MAX_SECONDS"),
    disableAfterSeconds: positiveSetting(env, "WEBHOOK_DISABLE_AFTER_SECONDS"),
    timeoutMs: Math.max(100, wholeSetting(env, "NOTIFY_WEBHOOK_TIMEOUT_MS")),
    allowLoopback: env.ALLOW_LOOPBACK_ENDPOINTS === "true",
  };
}

/** base, 2×base, 4×base … seconds after the 1st, 2nd, 3rd … failure, capped. */
export function retryDelaySeconds(attempts: number, cfg: Pick<WebhookConfig, "retryBaseSeconds" | "retryMaxSeconds">) {
  return Math.min(cfg.retryBaseSeconds * 2 ** Math.max(0, attempts - 1), cfg.retryMaxSeconds);
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

async function call(
  endpoint: { id: string; url: string; secret: string },
  event: ReturnType<typeof envelope>,
  cfg: WebhookConfig,
): Promise<Outcome> {
  const problem = endpointProblem(endpoint.url, cfg.allowLoopback);
  if (problem) return { ok: false, status: null, error: `endpoint URL ${problem}` };
  try {
    const res = await postWebhook(endpoint.url, endpoint.secret, `${endpoint.id}:${event.id}`, event, cfg.timeoutMs);
    return res.ok
      ? { ok: true, status: res.status }
      : { ok: false, status: res.status, error: `answered ${res.status}` };
  } catch (err) {
    return { ok: false, status: null, error: `call failed: ${(err as Error).message}` };
  }
}

type Progress = { next: "done" } | { next: "again" } | { next: "wait"; until: number };

/**
 * One drain job. Returns when to come back (more than one job sends is pending, or the stream's head
 * waits for its retry and this job queued the one wake-up for it), or null when nothing is due.
 * A job finding the stream held by another drops out: the holder looks at the stream again after it
 * lets go, so nothing written meanwhile is left behind.
 */
export async function drainStream(db: Db, cfg: WebhookConfig, job: DrainWebhookJob): Promise<Requeue | null> {
  const { endpointId, stream } = job;
  const { rows: leased } = await db.execute<{ ok: number }>(sql`
    insert into webhook_streams (endpoint_id, stream, lease_until)
    select ${endpointId}::uuid, ${stream}, now() + make_interval(secs => ${LEASE_SECONDS})
    where exists (select 1 from webhook_endpoints where id = ${endpointId}::uuid and enabled)
    on conflict (endpoint_id, stream) do update set lease_until = excluded.lease_until
      where webhook_streams.lease_until is null or webhook_streams.lease_until < now()
    returning 1 as ok`);
  if (leased.length === 0) return null;
  let progress: Progress;
  try {
    progress = await sendPending(db, cfg, endpointId, stream);
  } finally {
    await db.execute(
      sql`update webhook_streams set lease_until = null where endpoint_id = ${endpointId}::uuid and stream = ${stream}`,
    );
  }
  if (progress.next === "again") return { delaySeconds: 0 };
  // Done: deliveries written while this job held the stream are looked at now.
  if (progress.next === "done") progress = await headOf(db, endpointId, stream);
  if (progress.next === "again") return { delaySeconds: 0 };
  if (progress.next === "done") return null;
  return wakeFor(db, endpointId, stream, progress.until);
}

/** Whether the stream's first pending delivery is due now, later, or there is none. */
async function headOf(db: Db, endpointId: string, stream: string): Promise<Progress> {
  const [head] = await db
    .select({ nextAttemptAt: webhookDeliveries.nextAttemptAt, enabled: webhookEndpoints.enabled })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        eq(webhookDeliveries.stream, stream),
        eq(webhookDeliveries.state, "pending"),
      ),
    )
    .orderBy(asc(webhookDeliveries.orderKey), asc(webhookDeliveries.createdAt))
    .limit(1);
  if (!head?.enabled) return { next: "done" };
  const at = head.nextAttemptAt?.getTime() ?? 0;
  return at <= Date.now() ? { next: "again" } : { next: "wait", until: at };
}

/** One queued wake-up per stream and retry time: only the job that records it queues it. */
async function wakeFor(db: Db, endpointId: string, stream: string, until: number): Promise<Requeue | null> {
  const at = new Date(until).toISOString();
  const { rows } = await db.execute<{ ok: number }>(sql`
    update webhook_streams set wake_at = ${at}::timestamptz
    where endpoint_id = ${endpointId}::uuid and stream = ${stream}
      and (wake_at is null or wake_at < now() or wake_at > ${at}::timestamptz)
    returning 1 as ok`);
  if (rows.length === 0) return null;
  return { delaySeconds: Math.max(1, Math.ceil((until - Date.now()) / 1000)) };
}

/** Sends due deliveries in order until one fails, the budget is spent or none is left. */
async function sendPending(db: Db, cfg: WebhookConfig, endpointId: string, stream: string): Promise<Progress> {
  const started = Date.now();
  const [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpointId));
  if (!endpoint?.enabled) return { next: "done" };
  const pending = await db
    .select({ delivery: webhookDeliveries, event: integrationEvents })
    .from(webhookDeliveries)
    .innerJoin(integrationEvents, eq(integrationEvents.id, webhookDeliveries.eventId))
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        eq(webhookDeliveries.stream, stream),
        eq(webhookDeliveries.state, "pending"),
      ),
    )
    .orderBy(asc(webhookDeliveries.orderKey), asc(webhookDeliveries.createdAt))
    .limit(PER_JOB + 1);
  for (const [i, { delivery, event }] of pending.entries()) {
    // Well inside the lease (a call may take NOTIFY_WEBHOOK_TIMEOUT_MS): a fresh job takes over.
    if (i === PER_JOB || Date.now() - started > TIME_BUDGET_MS) return { next: "again" };
    const dueAt = delivery.nextAttemptAt?.getTime() ?? 0;
    if (dueAt > Date.now()) return { next: "wait", until: dueAt };
    const outcome = await call(endpoint, envelope(event), cfg);
    const key = and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.eventId, event.id));
    if (outcome.ok) {
      await db.batch([
        db
          .update(webhookDeliveries)
          .set({
            state: "delivered",
            attempts: sql`${webhookDeliveries.attempts} + 1`,
            lastStatus: outcome.status,
            lastError: null,
            nextAttemptAt: null,
            deliveredAt: sql`now()`,
            updatedAt: sql`now()`,
          })
          .where(key),
        db.update(webhookEndpoints).set({ failingSince: null }).where(eq(webhookEndpoints.id, endpointId)),
      ]);
      continue;
    }
    const attempts = delivery.attempts + 1;
    const dead = attempts >= cfg.maxAttempts;
    const retryIn = retryDelaySeconds(attempts, cfg);
    const [[failing]] = await db.batch([
      db
        .update(webhookEndpoints)
        .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, now())` })
        .where(eq(webhookEndpoints.id, endpointId))
        .returning({
          over: sql<boolean>`${webhookEndpoints.failingSince} < now() - make_interval(secs => ${cfg.disableAfterSeconds})`,
        }),
      db
        .update(webhookDeliveries)
        .set({
          state: dead ? "dead" : "pending",
          attempts,
          lastStatus: outcome.status,
          lastError: outcome.error.slice(0, MAX_ERROR_CHARS),
          nextAttemptAt: dead ? null : sql`now() + make_interval(secs => ${retryIn})`,
          deadAt: dead ? sql`now()` : null,
          updatedAt: sql`now()`,
        })
        .where(key),
    ]);
    logJson("warn", {
      msg: dead ? "webhook event dead-lettered" : "webhook call failed",
      endpointId,
      eventId: event.id,
      attempts,
      error: outcome.error,
    });
    if (failing?.over) {
      await disableEndpoint(db, endpointId, `failing for over ${cfg.disableAfterSeconds} s: ${outcome.error}`);
      return { next: "done" };
    }
    if (!dead) return retryIn === 0 ? { next: "again" } : { next: "wait", until: Date.now() + retryIn * 1000 };
  }
  return { next: "done" };
}

/** Disabled: nothing more is sent; every pending delivery becomes a dead letter, replayable after re-enabling. */
export async function disableEndpoint(db: Db, endpointId: string, reason: string): Promise<void> {
  await db.batch([
    db
      .update(webhookEndpoints)
      .set({
        enabled: false,
        disabledAt: sql`now()`,
        disabledReason: reason.slice(0, MAX_ERROR_CHARS),
        updatedAt: sql`now()`,
      })
      .where(eq(webhookEndpoints.id, endpointId)),
    db
      .update(webhookDeliveries)
      .set({
        state: "dead",
        deadAt: sql`now()`,
        lastError: sql`coalesce(${webhookDeliveries.lastError}, 'endpoint disabled')`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.state, "pending"))),
  ]);
  logJson("warn", { msg: "webhook endpoint disabled", endpointId, reason });
}

/** Streams of an endpoint with something pending: what a re-enable or a replay must drain. */
export async function pendingStreams(db: Db, endpointId: string): Promise<Drain[]> {
  const rows = await db
    .selectDistinct({ stream: webhookDeliveries.stream })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.state, "pending")));
  return rows.map((r) => ({ endpointId, stream: r.stream }));
}

/** Dead letters back to pending (all of the endpoint's, or these event ids); answers how many. */
export async function replayDeadLetters(db: Db, endpointId: string, eventIds: string[] | null): Promise<number> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ state: "pending", attempts: 0, nextAttemptAt: null, deadAt: null, updatedAt: sql`now()` })
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        eq(webhookDeliveries.state, "dead"),
        eventIds ? inArray(webhookDeliveries.eventId, eventIds) : undefined,
      ),
    )
    .returning({ id: webhookDeliveries.eventId });
  return rows.length;
}

/** Queues a drain job per stream. */
export async function queueDrains(queue: Queue, drains: Drain[], delaySeconds = 0): Promise<void> {
  for (let i = 0; i < drains.length; i += 100) {
    await queue.sendBatch(
      drains.slice(i, i + 100).map((d) => ({
        body: { kind: "webhook.drain" as const, endpointId: d.endpointId, stream: d.stream },
        ...(delaySeconds > 0 ? { delaySeconds } : {}),
      })),
    );
  }
}
