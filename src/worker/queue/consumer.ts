/**
 * The notifications queue consumer and its dead-letter consumer. Each message is acked or retried on its
 * own (a bad one never re-runs its batch); messages of one batch run a few at a time, so one slow webhook
 * does not hold up the rest.
 */
import { createDb, type Db } from "../../db/client";
import { mapBounded } from "../../lib/bounded";
import { logJson } from "../../lib/log";
import { flushMetrics, inc } from "../../lib/metrics";
import { type QueueJob, queueJob } from "../../protocol/jobs";
import { notificationsChangedFor } from "../inbox";
import { INTEGRATION_KINDS, runIntegrationJob } from "../integrations/jobs";
import { collectMessage } from "../notify/collect";
import { type NotifyConfig, notifyConfig } from "../notify/config";
import { deliverNotification, PermanentError } from "../notify/deliver";
import { flushNotification, queueFlushes } from "../notify/flush";
import type { Bindings } from "../types";
import { clearFailure, recordDeadLetter, recordFailure } from "./failures";

const CONCURRENCY = 8;
const DLQ_SUFFIX = "-dlq";

export async function handleQueue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const cfg = notifyConfig(env);
  const db = createDb(env);
  const handle = batch.queue.endsWith(DLQ_SUFFIX) ? handleDeadLetter : handleJob;
  await mapBounded(batch.messages, CONCURRENCY, (msg) => handle(msg, batch.queue, { env, cfg, db }));
  await flushMetrics(env);
}

interface Deps {
  env: Bindings;
  cfg: NotifyConfig;
  db: Db;
}

/** base, 2×base, 4×base … seconds, capped at 5 minutes. */
export function backoffSeconds(attempts: number, base = 2): number {
  return Math.min(base * 2 ** Math.max(0, attempts - 1), 300);
}

async function handleJob(msg: Message<unknown>, queue: string, deps: Deps): Promise<void> {
  const parsed = queueJob.safeParse(msg.body);
  try {
    if (!parsed.success) {
      // It can never succeed: dead-letter it now with the reason instead of retrying it for minutes.
      const reason = `invalid job: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"} ${i.message}`).join("; ")}`;
      await recordDeadLetter(deps.db, msg, queue, reason);
      logJson("warn", { msg: "invalid queue job dead-lettered", queue, id: msg.id });
      inc("edgechat_queue_jobs_total", { kind: "invalid", outcome: "dead_lettered" });
      msg.ack();
      return;
    }
    await runJob(parsed.data, deps);
    if (msg.attempts > 1) await clearFailure(deps.db, msg.id);
    inc("edgechat_queue_jobs_total", { kind: parsed.data.kind, outcome: "processed" });
    msg.ack();
  } catch (err) {
    await onFailure(msg, queue, deps, err);
  }
}

async function onFailure(msg: Message<unknown>, queue: string, deps: Deps, err: unknown): Promise<void> {
  const error = err instanceof Error ? err.message : String(err);
  try {
    if (err instanceof PermanentError) {
      await recordDeadLetter(deps.db, msg, queue, error);
      logJson("warn", { msg: "queue job dead-lettered", queue, id: msg.id, error });
      inc("edgechat_queue_jobs_total", { kind: jobKind(msg), outcome: "dead_lettered" });
      msg.ack();
      return;
    }
    await recordFailure(deps.db, msg, queue, error);
  } catch (recordErr) {
    // Postgres itself is down: the retry below still happens; the record waits for a later attempt.
    logJson("error", { msg: "could not record queue failure", queue, id: msg.id, error: String(recordErr) });
  }
  const delaySeconds = backoffSeconds(msg.attempts, deps.cfg.retryBaseSeconds);
  logJson("warn", { msg: "queue job retried", queue, id: msg.id, attempts: msg.attempts, delaySeconds, error });
  inc("edgechat_queue_jobs_total", { kind: jobKind(msg), outcome: "retried" });
  msg.retry({ delaySeconds });
}

async function runJob(job: QueueJob, { env, cfg, db }: Deps): Promise<void> {
  switch (job.kind) {
    case "message": {
      const touched = await collectMessage(db, job, cfg.digestWindowMs);
      await queueFlushes(env.NOTIFICATIONS, touched);
      // Inbox hook (issue 25): connected devices of these users list the new notifications.
      await notificationsChangedFor(
        env,
        touched.flatMap((t) => (t.userId ? [t.userId] : [])),
      );
      return;
    }
    case "flush": {
      const outcome = await flushNotification(db, cfg, env.NOTIFICATIONS, job.notificationId);
      // Ran early (a copy queued by a redelivered message job): come back when it is due.
      if ("notDueForSeconds" in outcome) {
        await queueFlushes(env.NOTIFICATIONS, [{ id: job.notificationId, dueInSeconds: outcome.notDueForSeconds }]);
      }
      return;
    }
    case "deliver":
      await deliverNotification(db, cfg, job);
      return;
    case "events.room":
    case "events.dispatch":
    case "webhook.drain":
    case "export.build":
    case "account.erase":
      // Integrations (issue 27): product events for admins' webhook endpoints.
      await runIntegrationJob(job, env, db);
      return;
  }
}

async function handleDeadLetter(msg: Message<unknown>, dlq: string, deps: Deps): Promise<void> {
  const queue = dlq.slice(0, -DLQ_SUFFIX.length);
  try {
    await recordDeadLetter(deps.db, msg, queue, null);
    logJson("error", { msg: "dead-lettered job recorded", queue, id: msg.id, attempts: msg.attempts });
    inc("edgechat_queue_jobs_total", { kind: jobKind(msg), outcome: "dead_lettered" });
    msg.ack();
  } catch (err) {
    logJson("error", { msg: "could not record dead letter", queue, id: msg.id, error: String(err) });
    msg.retry({ delaySeconds: backoffSeconds(msg.attempts, deps.cfg.retryBaseSeconds) });
  }
}

/** For metrics only: the job's kind when it has a known one. */
function jobKind(msg: Message<unknown>): string {
  const kind = (msg.body as { kind?: unknown } | null)?.kind;
  return kind === "message" || kind === "flush" || kind === "deliver" || INTEGRATION_KINDS.has(String(kind))
    ? String(kind)
    : "invalid";
}
