/**
 * The local Upstash bridge, exercised through @upstash/redis inside workerd as production code calls it
 * (base64 replies, auto-pipelining, EVALSHA with EVAL fallback), plus the raw protocol's error replies.
 */

import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";

const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, retry: false });
const key = (name: string) => `test:${crypto.randomUUID()}:${name}`;
const auth = { Authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}`, "Content-Type": "application/json" };
const raw = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${env.UPSTASH_REDIS_REST_URL}${path}`, { method: "POST", headers, body: JSON.stringify(body) });

describe("@upstash/redis through the bridge", () => {
  it("round-trips strings byte for byte, numbers and JSON", async () => {
    const k = key("s");
    expect(await redis.set(k, "héllo ✓ 🚀", { ex: 60 })).toBe("OK");
    expect(await redis.get(k)).toBe("héllo ✓ 🚀");
    await redis.set(k, { a: 1, b: ["x", null] });
    expect(await redis.get(k)).toEqual({ a: 1, b: ["x", null] });
    expect(await redis.incrby(key("n"), 5)).toBe(5);
    expect(await redis.get(key("missing"))).toBeNull();
    expect(await redis.ttl(k)).toBe(-1);
  });

  it("returns hashes and sorted sets in the client's shapes", async () => {
    const h = key("h");
    await redis.hset(h, { name: "ana", n: 2 });
    expect(await redis.hgetall(h)).toEqual({ name: "ana", n: 2 });
    const z = key("z");
    await redis.zadd(z, { score: 2, member: "two" }, { score: 1, member: "one" }, { score: 3, member: "three" });
    expect(await redis.zrange(z, 1, 2, { byScore: true })).toEqual(["one", "two"]);
    expect(await redis.zrange(z, 0, -1, { withScores: true })).toEqual(["one", 1, "two", 2, "three", 3]);
  });

  it("runs a pipeline with one reply per command, errors in place", async () => {
    const k = key("p");
    const p = redis.pipeline();
    p.set(k, "v");
    p.get(k);
    p.lpush(k, "x"); // wrong type
    const results = await p.exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: "OK", error: undefined });
    expect(results[1]).toEqual({ result: "v", error: undefined });
    expect(results[2]?.error).toMatch(/^WRONGTYPE/);
  });

  it("runs multi-exec atomically", async () => {
    const k = key("m");
    const tx = redis.multi();
    tx.incr(k);
    tx.incr(k);
    tx.get(k);
    expect(await tx.exec()).toEqual([1, 2, 2]);
  });

  it("falls back from EVALSHA to EVAL on NOSCRIPT, then uses the cached script", async () => {
    // A script text no earlier run has loaded, so the first EVALSHA really meets NOSCRIPT.
    const script = redis.createScript<number>(
      `-- ${crypto.randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`,
    );
    const k = key("lua");
    expect(await script.exec([k], ["3"])).toBe(3);
    expect(await script.exec([k], ["4"])).toBe(7);
  });

  it("decodes string values inside arrays exactly, including one that reads OK", async () => {
    const [a, b] = [key("a"), key("b")];
    await redis.set(a, "OK");
    await redis.set(b, "x");
    expect(await redis.mget(a, b, key("none"))).toEqual(["OK", "x", null]);
    const s = key("set");
    await redis.sadd(s, "OK");
    expect(await redis.smembers(s)).toEqual(["OK"]);
  });

  it("aborts a transaction with a queue-time error, running none of it", async () => {
    const k = key("abort");
    const res = await raw("/multi-exec", [["SET", k, "1"], ["NOSUCHCMD"]]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/EXECABORT/);
    expect(await redis.get(k)).toBeNull();
  });

  it("refuses commands that would block or take over the shared connection", async () => {
    for (const command of [
      ["BRPOPLPUSH", "a", "b", "1"],
      ["HELLO", "3"],
      ["CLIENT", "REPLY", "OFF"],
      ["XREAD", "BLOCK", "10", "STREAMS", "s", "$"],
    ]) {
      const res = await raw("/", command);
      expect(res.status).toBe(400);
    }
    expect(await redis.ping()).toBe("PONG");
  });

  it("throws the server's error text for a failing single command", async () => {
    const k = key("e");
    await redis.set(k, "text");
    await expect(redis.lpush(k, "x")).rejects.toThrow(/WRONGTYPE/);
  });
});

describe("REST protocol details and errors", () => {
  it("answers without base64 when the client does not ask for it", async () => {
    const k = key("plain");
    await raw("/", ["SET", k, "plain ✓"]);
    expect(await (await raw("/", ["GET", k])).json()).toEqual({ result: "plain ✓" });
  });

  it("encodes replies as base64 of their bytes when asked, keeping OK and integers plain", async () => {
    const k = key("b64");
    const h = { ...auth, "Upstash-Encoding": "base64" };
    expect(await (await raw("/", ["SET", k, "é"], h)).json()).toEqual({ result: "OK" });
    expect(await (await raw("/", ["GET", k], h)).json()).toEqual({ result: btoa("\xc3\xa9") });
    expect(await (await raw("/", ["STRLEN", k], h)).json()).toEqual({ result: 2 });
  });

  it("stringifies numeric and boolean arguments", async () => {
    const k = key("args");
    await raw("/", ["SET", k, 12.5]);
    expect(await (await raw("/", ["GET", k])).json()).toEqual({ result: "12.5" });
  });

  it("accepts path-style commands (curl friendly)", async () => {
    const k = key("path");
    await raw("/", ["SET", k, "v"]);
    const res = await fetch(`${env.UPSTASH_REDIS_REST_URL}/get/${encodeURIComponent(k)}`, { headers: auth });
    expect(await res.json()).toEqual({ result: "v" });
  });

  it("401 without or with a wrong token", async () => {
    const none = await raw("/", ["PING"], { "Content-Type": "application/json" });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: "Unauthorized" });
    expect((await raw("/", ["PING"], { Authorization: "Bearer wrong" })).status).toBe(401);
  });

  it("400 with an ERR message for malformed bodies", async () => {
    const notJson = await fetch(env.UPSTASH_REDIS_REST_URL, { method: "POST", headers: auth, body: "{" });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/^ERR /);
    expect((await raw("/", { cmd: "GET" })).status).toBe(400);
    expect((await raw("/", [])).status).toBe(400);
    expect((await raw("/", ["SET", "k", { nested: true }])).status).toBe(400);
    expect((await raw("/pipeline", [])).status).toBe(400);
    expect((await raw("/pipeline", ["GET", "k"])).status).toBe(400);
  });

  it("400 for unknown commands and commands the REST API does not allow", async () => {
    const unknown = await raw("/", ["NOSUCHCMD"]);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^ERR unknown command/);
    expect((await raw("/", ["SUBSCRIBE", "ch"])).status).toBe(400);
    expect((await raw("/multi-exec", [["SELECT", "1"]])).status).toBe(400);
  });

  it("reports a down Redis as an error reply instead of hanging", async () => {
    const started = Date.now();
    const res = await fetch(env.TEST_DEAD_REDIS_URL, {
      method: "POST",
      headers: { Authorization: `Bearer ${env.TEST_DEAD_REDIS_TOKEN}` },
      body: JSON.stringify(["PING"]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^ERR /);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
