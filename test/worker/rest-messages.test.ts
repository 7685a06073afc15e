/** Messages over REST: sends through the room, gapless history from Redis or Postgres, edits, reads. */

import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

/** A room whose `n` messages were sent over REST by enough members to stay under the throttle. */
async function roomWithMessages(n: number) {
  const senders = await Promise.all(Array.from({ length: Math.ceil(n / 3) }, (_, i) => createUser(`s${i}`)));
  const [owner] = senders;
  if (!owner) throw new Error("no sender");
  const room = await createRoom(
    owner.id,
    senders.slice(1).map((s) => s.id),
  );
  for (let i = 0; i < n; i++) {
    const sender = senders[Math.floor(i / 3)] as { token: string };
    const { status } = await api("POST", `/api/rooms/${room.id}/messages`, sender.token, {
      clientMsgId: `m${i + 1}`,
      body: `message ${i + 1}`,
    });
    expect(status).toBe(201);
  }
  await drainOutbox(room.id);
  return { room, owner };
}

const seqs = (json: { messages: { seq: number }[] }) => json.messages.map((m) => m.seq);

describe("POST /api/rooms/:id/messages", () => {
  it("sends through the room: seq, live delivery, and a resend returns the same message", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    const socket = await pool.connect(room.id, bob.token);
    await socket.next("welcome");
    const sent = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "rest-1",
      body: "hello",
    });
    expect(sent.status).toBe(201);
    expect(sent.json.message).toMatchObject({ seq: 1, body: "hello", senderId: ana.id });
    expect(await socket.next("message")).toMatchObject({ seq: 1, clientMsgId: "rest-1" });
    const again = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "rest-1",
      body: "hello again",
    });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ duplicate: true, message: { seq: 1, body: "hello" } });
  });

  it("answers 429 with Retry-After when throttled, and refuses fields a client may not set", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    for (const id of ["a", "b", "c"])
      await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: id, body: id });
    const fourth = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "d", body: "d" });
    expect(fourth.status).toBe(429);
    expect(Number(fourth.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(fourth.json.error).toMatchObject({ code: "throttled", details: { retryAfterMs: expect.any(Number) } });
    for (const body of [
      { clientMsgId: "e", body: "x", senderId: crypto.randomUUID() },
      { clientMsgId: "e", body: "x", seq: 99 },
      { clientMsgId: "e", body: "" },
      { clientMsgId: "e", body: "x".repeat(4001) },
    ]) {
      const res = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, body);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("validation_failed");
    }
  });
});

describe("GET /api/rooms/:id/messages", () => {
  it("pages newest first with keyset cursors: no gap, no duplicate, from Redis while it holds the range", async () => {
    const { room, owner } = await roomWithMessages(12);
    const pages: number[][] = [];
    let cursor: number | null = null;
    do {
      const q: string = cursor ? `?limit=5&before=${cursor}` : "?limit=5";
      const { res, json } = await api("GET", `/api/rooms/${room.id}/messages${q}`, owner.token);
      expect(res.headers.get("x-history-source")).toBe("redis");
      pages.push(seqs(json));
      cursor = json.nextBefore;
    } while (cursor);
    expect(pages).toEqual([
      [12, 11, 10, 9, 8],
      [7, 6, 5, 4, 3],
      [2, 1],
    ]);
  });

  it("falls back to Postgres when Redis lacks even one message of the range, and refills it", async () => {
    const { room, owner } = await roomWithMessages(6);
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    await redis.zremrangebyscore(`room:${room.id}:recent`, 4, 4);
    const gap = await api("GET", `/api/rooms/${room.id}/messages?limit=6`, owner.token);
    expect(gap.res.headers.get("x-history-source")).toBe("postgres");
    expect(seqs(gap.json)).toEqual([6, 5, 4, 3, 2, 1]);
    const refilled = await api("GET", `/api/rooms/${room.id}/messages?limit=6`, owner.token);
    expect(refilled.res.headers.get("x-history-source")).toBe("redis");
    expect(refilled.json.messages).toEqual(gap.json.messages);
  });

  it("does not serve a newest page from a buffer that missed the latest messages", async () => {
    const { room, owner } = await roomWithMessages(5);
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    await redis.zremrangebyscore(`room:${room.id}:recent`, 5, 5);
    const { res, json } = await api("GET", `/api/rooms/${room.id}/messages?limit=3`, owner.token);
    expect(res.headers.get("x-history-source")).toBe("postgres");
    expect(seqs(json)).toEqual([5, 4, 3]);
  });

  it("refills only what the buffer lacks, never replacing a newer version with Postgres' copy", async () => {
    const { room, owner } = await roomWithMessages(3);
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const key = `room:${room.id}:recent`;
    const [newer] = (await redis.zrange(key, 2, 2, { byScore: true })) as { body: string }[];
    // Pretend the room already cached an edit that Postgres has not received yet.
    await redis.zremrangebyscore(key, 2, 2);
    await redis.zadd(key, { score: 2, member: JSON.stringify({ ...newer, body: "edited, not yet in Postgres" }) });
    await redis.zremrangebyscore(key, 1, 1);
    expect(
      (await api("GET", `/api/rooms/${room.id}/messages?limit=3`, owner.token)).res.headers.get("x-history-source"),
    ).toBe("postgres");
    const again = await api("GET", `/api/rooms/${room.id}/messages?limit=3`, owner.token);
    expect(again.res.headers.get("x-history-source")).toBe("redis");
    expect(again.json.messages.map((m: { body: string }) => m.body)).toEqual([
      "message 3",
      "edited, not yet in Postgres",
      "message 1",
    ]);
  });

  it("serves history from Postgres when the buffer is gone entirely", async () => {
    const { room, owner } = await roomWithMessages(4);
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    await redis.del(`room:${room.id}:recent`);
    const { res, json } = await api("GET", `/api/rooms/${room.id}/messages?before=4&limit=2`, owner.token);
    expect(res.headers.get("x-history-source")).toBe("postgres");
    expect(seqs(json)).toEqual([3, 2]);
    expect(json.nextBefore).toBe(2);
  });

  it("pages forward with after=, oldest first", async () => {
    const { room, owner } = await roomWithMessages(5);
    const first = await api("GET", `/api/rooms/${room.id}/messages?after=0&limit=3`, owner.token);
    expect(seqs(first.json)).toEqual([1, 2, 3]);
    const next = await api("GET", `/api/rooms/${room.id}/messages?after=${first.json.nextAfter}&limit=3`, owner.token);
    expect(seqs(next.json)).toEqual([4, 5]);
    expect(next.json.nextAfter).toBeNull();
  });

  it("refuses bad paging parameters", async () => {
    const { room, owner } = await roomWithMessages(1);
    for (const q of ["?limit=0", "?limit=101", "?before=abc", "?before=3&after=1", "?sort=asc"]) {
      expect((await api("GET", `/api/rooms/${room.id}/messages${q}`, owner.token)).status, q).toBe(400);
    }
  });
});

describe("edits, deletes and reads over REST", () => {
  it("edits own messages, lets admins delete, and moves the unread count", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    await api("POST", `/api/rooms/${room.id}/messages`, bob.token, { clientMsgId: "b1", body: "tpyo" });
    await api("POST", `/api/rooms/${room.id}/messages`, bob.token, { clientMsgId: "b2", body: "second" });
    expect((await api("PATCH", `/api/messages/${room.id}/1`, bob.token, { body: "typo" })).status).toBe(200);
    expect((await api("PATCH", `/api/messages/${room.id}/1`, ana.token, { body: "not mine" })).status).toBe(403);
    expect((await api("PATCH", `/api/messages/${room.id}/99`, bob.token, { body: "x" })).status).toBe(404);
    expect((await api("DELETE", `/api/messages/${room.id}/2`, ana.token)).status).toBe(204);
    expect((await api("POST", `/api/rooms/${room.id}/read`, ana.token, { seq: 1 })).status).toBe(204);
    expect((await api("POST", `/api/rooms/${room.id}/read`, ana.token, { seq: 50 })).status).toBe(422);
    await drainOutbox(room.id);
    const { json } = await api("GET", `/api/rooms/${room.id}/messages`, ana.token);
    expect(json.messages.map((m: { seq: number; body: string | null }) => [m.seq, m.body])).toEqual([
      [2, null],
      [1, "typo"],
    ]);
    const list = await api("GET", "/api/rooms", ana.token);
    expect(list.json.rooms[0]).toMatchObject({ id: room.id, lastSeq: 2, unread: 1 });
  });
});
