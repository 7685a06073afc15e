/**
 * "The notifications queue is idle", as something a test can wait for instead of sleeping.
 *
 * Every job sent through a watched room's queue binding counts as
 * outstanding until the consumer acks it, here or in the dead-letter queue's consumer: a retried job stays
 * outstanding, and so does one delayed until it is due. The consumer's own sends (flush and deliver jobs)
 * are counted the same way, so once the count is back to zero nothing more can arrive, and a test that
 * proves "exactly once" can assert right then.
 *
 * It works because the pool runs the worker's `queue` handler from the very module object a test imports:
 * replacing `worker.queue` puts the counter in the path of every batch the local queue delivers.
 */
import { runInDurableObject } from "cloudflare:test";
import { vi } from "vitest";
import worker from "../../src/worker";
import { stubFor } from "./rooms";

let outstanding = 0;
/** Outstanding jobs by kind, for the error when the queue never goes idle. */
const byKind = new Map<string, number>();
let installed = false;

const kindOf = (body: unknown) => String((body as { kind?: unknown } | null)?.kind ?? "?");
function count(body: unknown, n: number): void {
  outstanding += n;
  byKind.set(kindOf(body), (byKind.get(kindOf(body)) ?? 0) + n);
}
const counters = new WeakSet<Queue>();
const rooms = new Set<string>();

function counting(queue: Queue): Queue {
  if (counters.has(queue)) return queue;
  const counted: Queue = {
    async send(body, options) {
      count(body, 1);
      try {
        return await queue.send(body, options);
      } catch (err) {
        count(body, -1);
        throw err;
      }
    },
    async sendBatch(messages, options) {
      const list = [...messages];
      for (const m of list) count(m.body, 1);
      try {
        return await queue.sendBatch(list, options);
      } catch (err) {
        for (const m of list) count(m.body, -1);
        throw err;
      }
    },
    metrics: () => queue.metrics(),
  } as Queue;
  counters.add(counted);
  return counted;
}

function install(): void {
  if (installed) return;
  installed = true;
  const consume = worker.queue;
  worker.queue = async (batch: MessageBatch<unknown>, env: Env, ...rest: unknown[]) => {
    // A test calling the handler itself with createMessageBatch passes no context: those messages were
    // never sent through a queue, so acking them settles nothing.
    if (rest.length === 0) return consume(batch, env);
    const settled = new Set<string>();
    const bodies = new Map(batch.messages.map((m) => [m.id, m.body]));
    const settle = (id: string, acked: boolean) => {
      if (settled.has(id)) return;
      settled.add(id);
      if (acked) count(bodies.get(id), -1);
    };
    const messages = batch.messages.map(
      (m): Message<unknown> => ({
        id: m.id,
        timestamp: m.timestamp,
        body: m.body,
        attempts: m.attempts,
        ack: () => {
          m.ack();
          settle(m.id, true);
        },
        retry: (options) => {
          m.retry(options);
          settle(m.id, false);
        },
      }),
    );
    const watched: MessageBatch<unknown> = {
      queue: batch.queue,
      metadata: batch.metadata,
      messages,
      ackAll: () => {
        batch.ackAll();
        for (const m of messages) settle(m.id, true);
      },
      retryAll: (options) => {
        batch.retryAll(options);
        for (const m of messages) settle(m.id, false);
      },
    };
    try {
      await consume(watched, { ...env, NOTIFICATIONS: counting(env.NOTIFICATIONS) });
    } catch (err) {
      // A handler that throws has every message without an explicit answer retried.
      for (const m of messages) settle(m.id, false);
      throw err;
    }
    // A handler that returns has every message without an explicit answer acked.
    for (const m of messages) settle(m.id, true);
  };
}

/** Counts the jobs this room queues. Call it before the room's first message of the test. */
export async function watchRoom(roomId: string): Promise<void> {
  install();
  rooms.add(roomId);
  await runInDurableObject(stubFor(roomId), (instance: object) => {
    const env = (instance as { env: Env }).env;
    // The room reads this.env each time it writes through, so the counting binding is the one it sends with.
    Object.assign(instance, { env: { ...env, NOTIFICATIONS: counting(env.NOTIFICATIONS) } });
  });
}

/**
 * Waits until every counted job is acked. Watched rooms drain their outboxes first: a message is acked to
 * its sender before the room writes it through, and the write-through is what queues its job.
 */
export async function queueIdle(timeout = 15_000): Promise<void> {
  for (const roomId of rooms) {
    const { depth } = await stubFor(roomId).drainOutbox();
    if (depth !== 0) throw new Error(`outbox of ${roomId} still holds ${depth} rows`);
  }
  await vi
    .waitUntil(() => outstanding <= 0, { timeout, interval: 20 })
    .catch(() => {
      throw new Error(`queue not idle after ${timeout} ms: ${JSON.stringify(Object.fromEntries(byKind))} outstanding`);
    });
  if (outstanding < 0) throw new Error(`queue watch acked ${-outstanding} jobs it never saw sent`);
}
