/**
 * Integrations' queue jobs and scheduled work, run by the notifications queue consumer and the cron.
 * Receivers failing never throws here (deliveries keep their own retry schedule in Postgres); a throw means
 * Postgres or the queue failed, and the queue retries the job.
 */
import { sql } from "drizzle-orm";
import { createDb, type Db } from "../../db/client";
import { positiveSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import type { QueueJob } from "../../protocol/jobs";
import type { Bindings } from "../types";
import { buildExport, eraseAccount, pruneExports } from "./data-rights";
import { dispatchPendingEvents, processRoomEvents, pruneEvents } from "./events";
import { applyRetention } from "./retention";
import { drainStream, queueDrains, webhookConfig } from "./webhooks";

export type IntegrationJob = Extract<
  QueueJob,
  { kind: "events.room" | "events.dispatch" | "webhook.drain" | "export.build" | "account.erase" }
>;

export const INTEGRATION_KINDS = new Set<string>([
  "events.room",
  "events.dispatch",
  "webhook.drain",
  "export.build",
  "account.erase",
]);

export async function runIntegrationJob(job: IntegrationJob, env: Bindings, db: Db): Promise<void> {
  const queue = env.NOTIFICATIONS;
  switch (job.kind) {
    case "events.room": {
      // Lifecycle events first (the room's creation, committed before any of its changes): they go out
      // with the room's changes rather than a minute later, and ahead of them in the room's stream.
      await dispatch(db, queue);
      const { drains, requeue } = await processRoomEvents(db, job);
      await queueDrains(queue, drains);
      if (requeue) await queue.send(job, requeue.delaySeconds > 0 ? { delaySeconds: requeue.delaySeconds } : {});
      return;
    }
    case "events.dispatch":
      await dispatch(db, queue);
      return;
    case "webhook.drain": {
      const again = await drainStream(db, webhookConfig(env), job);
      if (again) await queue.send(job, again.delaySeconds > 0 ? { delaySeconds: again.delaySeconds } : {});
      return;
    }
    case "export.build":
      await buildExport(env, db, job.exportId);
      return;
    case "account.erase":
      await eraseAccount(env, db, job.userId);
      await dispatch(db, queue);
      return;
  }
}

async function dispatch(db: Db, queue: Queue): Promise<void> {
  const { drains, more } = await dispatchPendingEvents(db);
  await queueDrains(queue, drains);
  if (more) await queue.send({ kind: "events.dispatch" });
}

/** wrangler.jsonc's every-minute cron (the hourly one is the attachment sweep's). */
export const EVERY_MINUTE = "* * * * *";

/**
 * Every minute (cron "* * * * *"): lifecycle events out; rooms whose log is ahead of their events (a job
 * lost with its lease) and streams with a due delivery that nobody is draining (a lost wake-up) queued again.
 */
export async function integrationsEveryMinute(env: Bindings): Promise<void> {
  const db = createDb(env);
  const queue = env.NOTIFICATIONS;
  try {
    await dispatch(db, queue);
    const [rooms, streams] = await db.batch([
      db.execute<{ room_id: string; version: string | number }>(sql`
        select c.room_id, r.version from room_event_cursors c join rooms r on r.id = c.room_id
        where r.version > c.through and (c.lease_until is null or c.lease_until < now())
        limit 1000`),
      db.execute<{ endpoint_id: string; stream: string }>(sql`
        select distinct d.endpoint_id, d.stream from webhook_deliveries d
        join webhook_endpoints e on e.id = d.endpoint_id and e.enabled
        left join webhook_streams s on s.endpoint_id = d.endpoint_id and s.stream = d.stream
        where d.state = 'pending' and (d.next_attempt_at is null or d.next_attempt_at <= now() - interval '30 seconds')
          and (s.lease_until is null or s.lease_until < now())
        limit 1000`),
    ]);
    for (let i = 0; i < rooms.rows.length; i += 100) {
      await queue.sendBatch(
        rooms.rows.slice(i, i + 100).map((r) => ({
          body: { kind: "events.room" as const, roomId: r.room_id, fromVersion: 1, toVersion: Number(r.version) },
        })),
      );
    }
    await queueDrains(
      queue,
      streams.rows.map((s) => ({ endpointId: s.endpoint_id, stream: s.stream })),
    );
  } catch (err) {
    logJson("error", { msg: "integrations minute failed", error: (err as Error).message });
  }
}

/** Hourly, with the attachment sweep: message retention, expired exports, events past their retention. */
export async function integrationsHourly(env: Bindings): Promise<void> {
  const db = createDb(env);
  const steps: [string, () => Promise<unknown>][] = [
    ["retention", () => applyRetention(env)],
    ["exports", () => pruneExports(env, db)],
    ["events", () => pruneEvents(db, positiveSetting(env, "WEBHOOK_EVENT_RETENTION_DAYS"))],
  ];
  for (const [step, run] of steps) {
    await run().catch((err: Error) =>
      logJson("error", { msg: "integrations hourly step failed", step, error: err.message }),
    );
  }
}
