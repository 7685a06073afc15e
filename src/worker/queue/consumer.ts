import { logJson } from "../log";
import type { Bindings } from "../types";
import { dedupeKey, type NotificationJob, notificationJob } from "./jobs";

export type JobOutcome = "ack" | "retry";

/** Per-message handling: each message is acked or retried on its own, so one bad job never re-runs a batch. */
export async function handleQueue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const deadLetters = batch.queue.endsWith("-dlq");
  for (const msg of batch.messages) {
    const outcome = deadLetters ? recordDeadLetter(batch.queue, msg) : await processJob(env, batch.queue, msg);
    if (outcome === "ack") msg.ack();
    else msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
  }
}

/** 2, 4, 8 … seconds, capped at 5 minutes. */
export function backoffSeconds(attempts: number): number {
  return Math.min(2 ** Math.max(1, attempts), 300);
}

async function processJob(env: Bindings, queue: string, msg: Message<unknown>): Promise<JobOutcome> {
  const parsed = notificationJob.safeParse(msg.body);
  if (!parsed.success) {
    // A payload that can never succeed is not retried; the notifications issue records it as a dead letter.
    logJson("warn", { msg: "invalid queue job dropped", queue, id: msg.id, issues: parsed.error.issues.length });
    return "ack";
  }
  return deliver(env, parsed.data);
}

/** Delivery channels (in-app, webhooks, push) are built by the notifications issue; this is their entry point. */
async function deliver(_env: Bindings, job: NotificationJob): Promise<JobOutcome> {
  for (const userId of job.recipients) {
    logJson("info", {
      msg: "notification job received",
      dedupeKey: dedupeKey(job.roomId, job.seq, userId),
      requestId: job.requestId,
    });
  }
  return "ack";
}

function recordDeadLetter(queue: string, msg: Message<unknown>): JobOutcome {
  logJson("error", { msg: "dead-lettered job", queue, id: msg.id, attempts: msg.attempts });
  return "ack";
}
