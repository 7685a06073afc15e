/** The in-room sliding window: exact at its edges, kept across eviction, abusive senders closed. */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decide, limitsFrom } from "../../src/durable-objects/throttle";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

const limits = { messages: 3, windowMs: 5000, abuseRejections: 10 };

describe("sliding window (pure)", () => {
  it("allows up to the limit within the window", () => {
    expect(decide([], 10_000, limits)).toEqual({ allowed: true });
    expect(decide([1000, 2000], 3000, limits)).toEqual({ allowed: true });
    expect(decide([1000, 2000, 3000], 3000, limits)).toEqual({ allowed: false, retryAfterMs: 3000 });
  });

  it("is exact at the edge: a send leaves the window exactly windowMs later", () => {
    expect(decide([1000, 2000, 3000], 5999, limits)).toEqual({ allowed: false, retryAfterMs: 1 });
    expect(decide([1000, 2000, 3000], 6000, limits)).toEqual({ allowed: true });
  });

  it("waits for the send that frees a slot, not just the oldest, when the log is over the limit", () => {
    // Four entries (a lowered limit, say): the 2nd oldest must leave before a 3-slot window has room.
    expect(decide([1000, 2000, 3000, 4000], 4000, limits)).toEqual({ allowed: false, retryAfterMs: 3000 });
  });

  it("reads its limits from the deployment's vars, with safe defaults", () => {
    expect(limitsFrom({ THROTTLE_MESSAGES: "5", THROTTLE_WINDOW_MS: "1000" })).toEqual({
      messages: 5,
      windowMs: 1000,
      abuseRejections: 15,
    });
    expect(
      limitsFrom({ THROTTLE_MESSAGES: "5", THROTTLE_WINDOW_MS: "1000", THROTTLE_ABUSE_REJECTIONS: "100" }),
    ).toEqual({ messages: 5, windowMs: 1000, abuseRejections: 100 });
    expect(limitsFrom({ THROTTLE_MESSAGES: "5", THROTTLE_WINDOW_MS: "1000", THROTTLE_ABUSE_REJECTIONS: "0" })).toEqual({
      messages: 5,
      windowMs: 1000,
      abuseRejections: 15,
    });
    expect(limitsFrom({ THROTTLE_MESSAGES: "zero", THROTTLE_WINDOW_MS: "-1" })).toEqual({
      messages: 3,
      windowMs: 5000,
      abuseRejections: 10,
    });
  });
});

describe("throttle in the room", () => {
  it("rejects the 4th message in 5 s with retryAfterMs, stores nothing, and keeps the window across eviction", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    const started = Date.now();
    for (const id of ["t1", "t2", "t3"]) await sendAndAck(a, id);
    a.send({ type: "send", clientMsgId: "t4", body: "one too many" });
    const throttled = await a.next("throttled");
    expect(throttled.clientMsgId).toBe("t4");
    expect(throttled.retryAfterMs).toBeGreaterThan(5000 - (Date.now() - started) - 50);
    expect(throttled.retryAfterMs).toBeLessThanOrEqual(5000);

    const stub = stubFor(room.id);
    await evictDurableObject(stub);
    a.send({ type: "send", clientMsgId: "t5", body: "after eviction" });
    expect((await a.next("throttled")).clientMsgId).toBe("t5");
    expect((await stub.stats()).lastSeq).toBe(3);
    // A resend of an accepted message is not a new send: it is re-acked, not throttled.
    a.send({ type: "send", clientMsgId: "t1", body: "resend" });
    expect(await a.next("ack")).toMatchObject({ seq: 1, duplicate: true });
  });

  it("limits each user on their own", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    for (const id of ["a1", "a2", "a3"]) await sendAndAck(a, id);
    expect(await sendAndAck(b, "b1")).toBe(4);
  });

  it("closes a socket that keeps sending far over the limit with 1008", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    for (let i = 0; i < 20; i++) a.send({ type: "send", clientMsgId: `flood-${i}`, body: "spam" });
    expect((await a.waitClosed()).code).toBe(1008);
    expect((await stubFor(room.id).stats()).lastSeq).toBe(3);
  });
});
