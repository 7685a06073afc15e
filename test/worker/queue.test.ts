import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/worker";
import { backoffSeconds } from "../../src/worker/queue/consumer";
import { dedupeKey, type NotificationJob } from "../../src/worker/queue/jobs";

const job = (over: Partial<NotificationJob> = {}): NotificationJob => ({
  kind: "message",
  roomId: crypto.randomUUID(),
  seq: 7,
  senderId: crypto.randomUUID(),
  recipients: [crypto.randomUUID(), crypto.randomUUID()],
  ...over,
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("notifications queue consumer", () => {
  it("receives a batch and acks each valid job on its own", async () => {
    const batch = createMessageBatch("edgechat-notifications", [
      { id: "a", timestamp: new Date(), attempts: 1, body: job() },
      { id: "b", timestamp: new Date(), attempts: 1, body: job() },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, env);
    expect(await getQueueResult(batch, ctx)).toMatchObject({
      outcome: "ok",
      ackAll: false,
      explicitAcks: ["a", "b"],
      retryMessages: [],
    });
  });

  it("drops a payload that can never succeed instead of retrying it forever", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const batch = createMessageBatch<unknown>("edgechat-notifications", [
      { id: "bad", timestamp: new Date(), attempts: 1, body: { kind: "message", roomId: "nope" } },
      { id: "good", timestamp: new Date(), attempts: 1, body: job() },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, env);
    expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: ["bad", "good"], retryMessages: [] });
    expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toContain("invalid queue job dropped");
  });

  it("records and acks dead letters", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const batch = createMessageBatch("edgechat-notifications-dlq", [
      { id: "d", timestamp: new Date(), attempts: 9, body: job() },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, env);
    expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: ["d"] });
    expect(error.mock.calls.map((c) => String(c[0])).join("\n")).toContain('"msg":"dead-lettered job"');
  });

  it("backs off exponentially up to five minutes", () => {
    expect([1, 2, 3, 8, 9, 20].map(backoffSeconds)).toEqual([2, 4, 8, 256, 300, 300]);
  });

  it("delivers what the producer binding sends to the consumer, end to end", async () => {
    const log = vi.spyOn(console, "log");
    const sent = job();
    await env.NOTIFICATIONS.send(sent);
    const keys = sent.recipients.map((u) => dedupeKey(sent.roomId, sent.seq, u));
    await vi.waitUntil(() => keys.every((k) => log.mock.calls.some((c) => String(c[0]).includes(k))), {
      timeout: 5000,
      interval: 20,
    });
  });
});
