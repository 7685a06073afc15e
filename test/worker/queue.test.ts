/** The consumer's per-message outcomes (ack, retry, dead letter) through createMessageBatch / getQueueResult. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  deadLetters,
  notificationKeys,
  notificationSettings,
  notifications,
  queueFailures,
} from "../../src/db/notification-schema";
import { messages, roomMembers } from "../../src/db/schema";
import type { MessageJob, QueueJob } from "../../src/protocol/jobs";
import worker from "../../src/worker";
import { backoffSeconds } from "../../src/worker/queue/consumer";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { failNext, hookUrl, receiverCalls } from "../helpers/notify";

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * What the consumer queues while a test runs it by hand (flushes, deliveries) is dropped instead of
 * reaching the real local queue, whose consumer would otherwise run those jobs too, call the same
 * receivers and take their scripted failures at some later moment. Each run is then all there is.
 */
const heldQueue = { send: async () => {}, sendBatch: async () => {} } as unknown as Queue;
const testEnv = { ...env, NOTIFICATIONS: heldQueue };

let nextId = 0;
async function run(queue: string, bodies: unknown[]) {
  const batch = createMessageBatch<unknown>(
    queue,
    bodies.map((body) => ({ id: `m${++nextId}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, testEnv);
  return { ids: batch.messages.map((m) => m.id), result: await getQueueResult(batch, ctx) };
}

/** A room with a stored message from its owner and `n` other members. */
async function storedMessage(n: number, body = "hello") {
  const sender = await createUser("Sender");
  const others = await Promise.all(Array.from({ length: n }, (_, i) => createUser(`r${i}`)));
  const room = await createRoom(
    sender.id,
    others.map((o) => o.id),
  );
  await db().insert(messages).values({ roomId: room.id, seq: 1, senderId: sender.id, clientMsgId: "c1", body });
  const job: MessageJob = {
    kind: "message",
    roomId: room.id,
    seq: 1,
    senderId: sender.id,
    recipients: others.map((o) => o.id),
  };
  return { room, sender, others, job };
}

const rowsFor = (userId: string) => db().select().from(notifications).where(eq(notifications.userId, userId));

describe("notifications queue consumer", () => {
  it("acks each valid job on its own and stores one notification per recipient", async () => {
    const a = await storedMessage(2);
    const b = await storedMessage(1);
    const { ids, result } = await run("edgechat-notifications", [a.job, b.job]);
    expect(result).toMatchObject({ outcome: "ok", ackAll: false, explicitAcks: ids, retryMessages: [] });
    for (const u of [...a.others, ...b.others]) expect(await rowsFor(u.id)).toHaveLength(1);
    expect(await rowsFor(a.sender.id)).toHaveLength(0);
  });

  it("counts a job delivered twice (in one batch, and again later) once", async () => {
    const { job, others } = await storedMessage(1);
    await run("edgechat-notifications", [job, job]);
    await run("edgechat-notifications", [job]);
    const [row] = await rowsFor(others[0]?.id ?? "");
    expect(row).toMatchObject({ messageCount: 1, firstSeq: 1, lastSeq: 1 });
    const keys = await db().select().from(notificationKeys).where(eq(notificationKeys.roomId, job.roomId));
    expect(keys).toHaveLength(1);
  });

  it("skips muted members and members who left, even when the job names them", async () => {
    const { job, others, room } = await storedMessage(2);
    const [muted, gone] = others as [(typeof others)[0], (typeof others)[0]];
    await db()
      .update(roomMembers)
      .set({ mutedUntil: new Date(Date.now() + 60_000) })
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, muted.id)));
    await db()
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, gone.id)));
    const { ids, result } = await run("edgechat-notifications", [job]);
    expect(result.explicitAcks).toEqual(ids);
    expect(await rowsFor(muted.id)).toHaveLength(0);
    expect(await rowsFor(gone.id)).toHaveLength(0);
  });

  it("dead-letters an invalid payload with its reason instead of retrying it", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const good = (await storedMessage(1)).job;
    const { ids, result } = await run("edgechat-notifications", [{ kind: "message", roomId: "nope" }, good]);
    expect(result).toMatchObject({ explicitAcks: ids, retryMessages: [] });
    const [dead] = await db()
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.messageId, ids[0] ?? ""));
    expect(dead?.reason).toMatch(/^invalid job: /);
    expect(dead?.reason).toContain("roomId");
    expect(warn).toHaveBeenCalled();
  });

  it("retries only the delivery that failed, recording its last error", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { job, others } = await storedMessage(1, "@r0 look");
    const user = others[0] as (typeof others)[0];
    const name = crypto.randomUUID();
    await db()
      .insert(notificationSettings)
      .values({ userId: user.id, webhookUrl: hookUrl(name), webhookSecret: "s" });
    await run("edgechat-notifications", [job]);
    const [n] = await rowsFor(user.id);
    if (!n) throw new Error("no notification");
    await failNext(name, 1, 500);
    const failing: QueueJob = { kind: "deliver", notificationId: n.id, target: "webhook:user" };
    const other = (await storedMessage(1)).job;
    const { ids, result } = await run("edgechat-notifications", [failing, other]);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual([ids[0]]);
    expect(result.explicitAcks).toEqual([ids[1]]);
    const [failure] = await db()
      .select()
      .from(queueFailures)
      .where(eq(queueFailures.messageId, ids[0] ?? ""));
    expect(failure).toMatchObject({ lastError: "webhook receiver answered 500", attempts: 1 });

    // Delivered on the next run; a copy of the same job afterwards calls nobody.
    await run("edgechat-notifications", [failing]);
    await run("edgechat-notifications", [failing]);
    // Every run above has returned and none fed the real queue, so no call can still be on its way.
    expect((await receiverCalls(name)).map((c) => c.answered)).toEqual([500, 200]);
  });

  it("dead-letters at once when the receiver refuses the request itself (4xx)", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { job, others } = await storedMessage(1, "@r0 hi");
    const user = others[0] as (typeof others)[0];
    const name = crypto.randomUUID();
    await db()
      .insert(notificationSettings)
      .values({ userId: user.id, webhookUrl: hookUrl(name), webhookSecret: "s" });
    await run("edgechat-notifications", [job]);
    const [n] = await rowsFor(user.id);
    await failNext(name, 1, 400);
    const { ids, result } = await run("edgechat-notifications", [
      { kind: "deliver", notificationId: n?.id, target: "webhook:user" },
    ]);
    expect(result).toMatchObject({ explicitAcks: ids, retryMessages: [] });
    const [dead] = await db()
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.messageId, ids[0] ?? ""));
    expect(dead?.reason).toBe("webhook receiver refused with 400");
  });

  it("records dead letters from the DLQ with the last error seen, once per message", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const body = { kind: "flush", notificationId: crypto.randomUUID() };
    const id = `dlq-${crypto.randomUUID()}`;
    await db()
      .insert(queueFailures)
      .values({ messageId: id, queue: "edgechat-notifications", lastError: "boom", attempts: 9 });
    for (let i = 0; i < 2; i++) {
      const batch = createMessageBatch<unknown>("edgechat-notifications-dlq", [
        { id, timestamp: new Date(), attempts: 1, body },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch as MessageBatch<unknown>, env);
      expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: [id] });
    }
    const rows = await db().select().from(deadLetters).where(eq(deadLetters.messageId, id));
    expect(rows).toEqual([
      expect.objectContaining({ queue: "edgechat-notifications", reason: "boom", attempts: 9, body }),
    ]);
    expect(await db().select().from(queueFailures).where(eq(queueFailures.messageId, id))).toHaveLength(0);
    expect(error.mock.calls.map((c) => String(c[0])).join("\n")).toContain('"msg":"dead-lettered job recorded"');
  });

  it("retries every job while Postgres is down", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { job } = await storedMessage(1);
    const batch = createMessageBatch<unknown>("edgechat-notifications", [
      { id: "down-1", timestamp: new Date(), attempts: 3, body: job },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, { ...env, DATABASE_URL: env.TEST_DEAD_DATABASE_URL });
    expect(await getQueueResult(batch, ctx)).toMatchObject({
      explicitAcks: [],
      retryMessages: [{ msgId: "down-1" }],
    });
  });

  it("backs off exponentially from the configured base up to five minutes", () => {
    expect([1, 2, 3, 8, 9, 20].map((a) => backoffSeconds(a))).toEqual([2, 4, 8, 256, 300, 300]);
    expect(backoffSeconds(5, 0)).toBe(0);
  });
});
