/** Messages over REST: sends through the room, gapless history from Postgres (Redis only when it fails), edits, reads. */

import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { isUnavailable } from "../../src/db/errors";
import { rooms } from "../../src/db/schema";
import { bufferedPage, readHistory } from "../../src/worker/history";
import type { Bindings } from "../../src/worker/types";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
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
  it("pages newest first with keyset cursors from Postgres: no gap, no duplicate, each page with the version", async () => {
    const { room, owner } = await roomWithMessages(12);
    await db().update(rooms).set({ version: 77 }).where(eq(rooms.id, room.id));
    const pages: number[][] = [];
    let cursor: number | null = null;
    do {
      const q: string = cursor ? `?limit=5&before=${cursor}` : "?limit=5";
      const { res, json } = await api("GET", `/api/rooms/${room.id}/messages${q}`, owner.token);
      expect(res.headers.get("x-history-source")).toBe("postgres");
      expect(json).toMatchObject({ source: "postgres", version: 77 });
      pages.push(seqs(json));
      cursor = json.nextBefore;
    } while (cursor);
    expect(pages).toEqual([
      [12, 11, 10, 9, 8],
      [7, 6, 5, 4, 3],
      [2, 1],
    ]);
  });

  it("reads Postgres whatever the Redis buffer holds: a hole in it or an edit not yet in Postgres changes nothing", async () => {
    const { room, owner } = await roomWithMessages(6);
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const key = `room:${room.id}:recent`;
    const [two] = (await redis.zrange(key, 2, 2, { byScore: true })) as { body: string }[];
    await redis.zremrangebyscore(key, 2, 2);
    await redis.zadd(key, { score: 2, member: JSON.stringify({ ...two, body: "edited, not yet in Postgres" }) });
    await redis.zremrangebyscore(key, 4, 4);
    const page = await api("GET", `/api/rooms/${room.id}/messages?limit=6`, owner.token);
    expect(page.res.headers.get("x-history-source")).toBe("postgres");
    expect(page.json.messages.map((m: { seq: number; body: string }) => [m.seq, m.body])).toEqual(
      [6, 5, 4, 3, 2, 1].map((n) => [n, `message ${n}`]),
    );
    // Nothing is written back: the buffer still lacks seq 4.
    expect(await redis.zrange(key, 4, 4, { byScore: true })).toEqual([]);
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

/**
 * The degraded path (issue 24): the page and the membership check are one Postgres call, so with Postgres
 * away only the room can say who is a member (it vouches for those it knows, member-cache.ts); for them
 * the Redis buffer serves what it holds whole. readHistory is called with a DATABASE_URL the local Neon
 * proxy fails.
 */
describe("history when Postgres is away", () => {
  async function cutPostgres() {
    const marker = `histfault${crypto.randomUUID().replaceAll("-", "")}`;
    const url = new URL(env.DATABASE_URL);
    url.password = marker;
    const res = await fetch(`http://${env.NEON_LOCAL_PROXY}/__control/cut?match=${marker}`, { method: "POST" });
    expect(res.status).toBe(200);
    return {
      env: { ...env, DATABASE_URL: url.toString() },
      restore: () => fetch(`http://${env.NEON_LOCAL_PROXY}/__control/restore?match=${marker}`, { method: "POST" }),
    };
  }

  it("serves a member the room vouches for a range the buffer holds whole, with no version and no per-viewer state", async () => {
    const { room, owner } = await roomWithMessages(6);
    // A socket's upgrade is what makes the room remember the owner (the worker confirms Postgres' answer).
    (await pool.join(room.id, owner.token)).close();
    const stranger = await createUser("stranger");
    const cut = await cutPostgres();
    try {
      const page = await readHistory(cut.env, room.id, owner.id, { limit: 4 });
      expect(page.source).toBe("redis");
      expect(page.version).toBeNull();
      expect(page.messages.map((m) => [m.seq, m.body, m.kind])).toEqual(
        [6, 5, 4, 3].map((n) => [n, `message ${n}`, "regular"]),
      );
      // Reactions, replies and pins are unknown here, so they are absent rather than empty or zero.
      expect(page.messages[0]).not.toHaveProperty("reactions");
      expect(page.messages[0]).not.toHaveProperty("pinned");
      const older = await readHistory(cut.env, room.id, owner.id, { before: 3, limit: 4 });
      expect(older.messages.map((m) => m.seq)).toEqual([2, 1]);
      // Someone the room does not know: only Postgres could say, so the read fails as Postgres did.
      await readHistory(cut.env, room.id, stranger.id, { limit: 4 }).then(
        () => expect.fail("served a page to someone the room cannot vouch for"),
        (err: unknown) => expect(isUnavailable(err), String(err)).toBe(true),
      );
    } finally {
      await cut.restore();
    }
  });

  it("never serves a gap: a hole, a buffer behind the room, a window past the end, or Redis down", async () => {
    const { room } = await roomWithMessages(6);
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const refused = async (e: Bindings, q: Parameters<typeof bufferedPage>[2], knownLastSeq = 6) =>
      expect(await bufferedPage(e, room.id, q, knownLastSeq).catch(() => null)).toBeNull();
    // The buffer holds 1..6 whole: a newest page the room has moved past is refused...
    await refused(env, { limit: 3 }, 7);
    // ...as is a forward window reaching past what exists (Redis cannot tell "not sent" from "missing").
    await refused(env, { after: 4, limit: 3 });
    await refused({ ...env, UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL }, { limit: 3 });
    await redis.zremrangebyscore(`room:${room.id}:recent`, 4, 4);
    await refused(env, { limit: 3 });
    await refused(env, { before: 6, limit: 3 });
    await refused(env, { after: 2, limit: 3 });
    // Around the hole, whole windows are still served.
    const whole = await bufferedPage(env, room.id, { before: 4, limit: 3 }, 6);
    expect(whole?.map((m) => m.seq)).toEqual([3, 2, 1]);
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
