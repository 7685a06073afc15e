/** The room object writes and reads its recent-message buffer in Redis through @upstash/redis. */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { type BufferedMessage, RecentBuffer } from "../../src/lib/recent-buffer";
import { createRoom, createUser } from "../helpers/fixtures";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

const message = (seq: number, senderId: string): BufferedMessage => ({
  roomId: "r",
  seq,
  senderId,
  clientMsgId: `c-${seq}`,
  body: `message ${seq} ✓`,
  replyTo: seq > 1 ? seq - 1 : null,
  createdAt: new Date(1_700_000_000_000 + seq).toISOString(),
  editedAt: null,
  deletedAt: null,
});

describe("recent-message buffer in Redis", () => {
  it("is written and read by the room object, and reported over RPC", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    (await pool.connect(room.id, ana.token)).close(); // the first connection tells the object its room id
    const stub = env.ROOMS.get(env.ROOMS.idFromName(room.id));

    const read = await runInDurableObject(stub, (instance: ChatRoom) =>
      instance.withBuffer(async (buffer) => {
        await buffer.upsert([1, 2, 3, 4].map((seq) => message(seq, ana.id)));
        return buffer.range(2, 3);
      }),
    );
    expect(read).toEqual([message(2, ana.id), message(3, ana.id)]);
    expect((await stub.stats()).buffer).toEqual({ min: 1, max: 4, count: 4 });

    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const ttl = await redis.ttl(`room:${room.id}:recent`);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
  });

  it("keeps only the newest messages up to its cap, in one pipelined call", async () => {
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const buffer = new RecentBuffer(redis, crypto.randomUUID(), { size: 5, ttlSeconds: 60 });
    const sender = crypto.randomUUID();
    await buffer.upsert([1, 2, 3, 4].map((seq) => message(seq, sender)));
    await buffer.upsert([5, 6, 7].map((seq) => message(seq, sender)));
    expect(await buffer.bounds()).toEqual({ min: 3, max: 7, count: 5 });
    expect((await buffer.range(0, 100)).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    await buffer.upsert([]);
    expect(await buffer.bounds()).toEqual({ min: 3, max: 7, count: 5 });
  });

  it("replaces an edited or deleted message in place", async () => {
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const buffer = new RecentBuffer(redis, crypto.randomUUID(), { size: 5, ttlSeconds: 60 });
    const sender = crypto.randomUUID();
    await buffer.upsert([1, 2].map((seq) => message(seq, sender)));
    const edited = { ...message(2, sender), body: "edited", editedAt: new Date().toISOString() };
    await buffer.upsert([edited]);
    expect(await buffer.range(0, 10)).toEqual([message(1, sender), edited]);
  });

  it("reports an empty buffer as null bounds", async () => {
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    const buffer = new RecentBuffer(redis, crypto.randomUUID(), { size: 5, ttlSeconds: 60 });
    expect(await buffer.bounds()).toBeNull();
    expect(await buffer.range(0, 10)).toEqual([]);
  });

  it("is off when Redis is not configured", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    (await pool.connect(room.id, ana.token)).close();
    const stub = env.ROOMS.get(env.ROOMS.idFromName(room.id));
    await runInDurableObject(stub, async (instance: ChatRoom) => {
      Object.assign(instance, { env: { ...env, UPSTASH_REDIS_REST_URL: "" } });
      await expect(instance.withBuffer(async () => "used")).rejects.toThrow(/not configured/);
      expect((await instance.stats()).buffer).toBeNull();
    });
  });
});
