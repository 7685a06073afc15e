/**
 * Protocol 2: every change in a room takes the next number of one gapless log, and a socket that opens
 * with `?since=<version>` receives exactly the changes after it, once each, in order, then goes live.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { and, asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { roomChanges, rooms } from "../../src/db/schema";
import { breakRedis } from "../helpers/faults";
import { db } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor, type TestUser } from "../helpers/rooms";
import { type Frame, type TestSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const LOG_SIZE = Number(env.ROOM_CHANGE_LOG_SIZE);

/** Every change frame up to the `synced` that ends the catch-up, asking again while it says `more`. */
async function catchUp(socket: TestSocket, timeoutMs = 5000): Promise<Frame[]> {
  const changes: Frame[] = [];
  for (;;) {
    const at = await socket.until((f) => f.type === "synced", timeoutMs);
    const taken = socket.frames.splice(0, at + 1);
    const synced = taken.pop() as Frame;
    changes.push(...taken.filter((f) => "v" in f));
    if (!synced.more) return changes;
    socket.send({ type: "sync", since: synced.toVersion });
  }
}

function versions(frames: Frame[]): number[] {
  return frames.map((f) => f.v as number);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** The room's version as a new protocol-2 socket is told it. */
async function roomVersion(roomId: string, user: TestUser): Promise<number> {
  const s = await pool.since(roomId, user.token, 0);
  const welcome = await s.next("welcome");
  await catchUp(s);
  s.close();
  return welcome.version as number;
}

const api = (path: string, token: string, method = "GET") =>
  exports.default.fetch(`http://edgechat.test${path}`, { method, headers: { Authorization: `Bearer ${token}` } });

describe("the change log", () => {
  it("numbers every kind of change gaplessly, and a returning client gets each once, in order", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = [users[0], users[1] as TestUser];
    const a = await pool.join(room.id, ana.token);
    const s1 = await sendAndAck(a, "c1", "first");
    const bobHas = await roomVersion(room.id, bob);
    expect(bobHas).toBe(1);

    // While Bob is away: a message, an edit, a reaction on and off, a pin, a read, a delete.
    const s2 = await sendAndAck(a, "c2", "second");
    a.send({ type: "edit", seq: s1, body: "first, edited" });
    await a.next("edited");
    a.send({ type: "react", seq: s1, emoji: "👍", on: true });
    await a.next("reaction");
    a.send({ type: "react", seq: s1, emoji: "👍", on: false });
    await a.next("reaction");
    expect((await api(`/api/messages/${room.id}/${s1}/pin`, ana.token, "POST")).status).toBe(204);
    await a.next("pinned");
    a.send({ type: "read", seq: s2 });
    await a.next("receipt");
    a.send({ type: "delete", seq: s2 });
    await a.next("deleted");

    const b = await pool.since(room.id, bob.token, bobHas);
    expect(await b.next("welcome")).toMatchObject({ protocol: 2, version: bobHas + 7 });
    const missed = await catchUp(b);
    expect(versions(missed)).toEqual(range(bobHas + 1, bobHas + 7));
    expect(missed.map((f) => f.type)).toEqual([
      "message",
      "edited",
      "reaction",
      "reaction",
      "pinned",
      "receipt",
      "deleted",
    ]);
    expect(missed[1]).toMatchObject({ seq: s1, body: "first, edited" });
    expect(missed[2]).toMatchObject({ seq: s1, userId: ana.id, emoji: "👍", on: true });
    expect(missed[5]).toMatchObject({ userId: ana.id, seq: s2 });
    // The deleted message's words are not in the catch-up: its log entry is a tombstone.
    expect(missed[0]).toMatchObject({ seq: s2, body: null });
    expect(JSON.stringify(missed)).not.toContain("second");

    // Then live, with the next number.
    const s3 = await sendAndAck(a, "c3", "third");
    expect(await b.next("message")).toMatchObject({ seq: s3, v: bobHas + 8 });
  });

  it("writes the log through to Postgres with the room's version, scrubbing deleted text", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    const s1 = await sendAndAck(a, "w1", "keep me");
    const s2 = await sendAndAck(a, "w2", "forget me");
    a.send({ type: "delete", seq: s2 });
    await a.next("deleted");
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const rows = await db()
      .select()
      .from(roomChanges)
      .where(eq(roomChanges.roomId, room.id))
      .orderBy(asc(roomChanges.version));
    expect(rows.map((r) => [r.version, r.kind, r.seq])).toEqual([
      [1, "message", s1],
      [2, "message", s2],
      [3, "deleted", s2],
    ]);
    expect(rows[1]?.frame).toMatchObject({ seq: s2, body: null });
    const [pg] = await db().select({ version: rooms.version }).from(rooms).where(eq(rooms.id, room.id));
    expect(pg?.version).toBe(3);
  });

  it("catches up from Postgres on what the room no longer keeps, after an eviction, with Redis down", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = [users[0], users[1] as TestUser];
    const a = await pool.join(room.id, ana.token);
    const first = await sendAndAck(a, "old-0");
    // Far more changes than the room keeps (reactions: no throttle), so the early ones live only in Postgres.
    for (let i = 1; i <= LOG_SIZE * 2; i++) {
      a.send({ type: "react", seq: first, emoji: `e${i}`, on: true });
      await a.next("reaction");
    }
    a.close();
    const stub = stubFor(room.id);
    expect(await stub.drainOutbox()).toEqual({ depth: 0 });
    await evictDurableObject(stub);
    await breakRedis(stub);

    const b = await pool.since(room.id, bob.token, 0);
    const welcome = await b.next("welcome");
    const all = await catchUp(b);
    expect(versions(all)).toEqual(range(1, welcome.version as number));
    expect(all.length).toBe(1 + LOG_SIZE * 2);
    // And from the middle: exactly the rest.
    const c = await pool.since(room.id, bob.token, 5);
    await c.next("welcome");
    expect(versions(await catchUp(c))).toEqual(range(6, welcome.version as number));
  }, 60_000);

  it("refuses a version the room never reached, and keeps old protocol-1 clients working", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    const seq = await sendAndAck(a, "p1");
    const ahead = await pool.since(room.id, users[0].token, 99);
    await ahead.next("welcome");
    expect(await ahead.next("error")).toMatchObject({ code: "resync_required", ref: "sync" });
    // Protocol 1: no since, live at once, resume replays messages.
    const old = await pool.join(room.id, users[0].token);
    old.send({ type: "resume", lastSeq: 0 });
    expect(await old.next("message")).toMatchObject({ seq });
    expect(await old.next("resumed")).toMatchObject({ fromSeq: 1, toSeq: seq });
  });
});

describe("catch-up under live load", () => {
  it("never sends a frame twice or ahead of order while messages keep coming", async () => {
    const { room, users } = await roomWith(4);
    const senders = await Promise.all(users.slice(1).map((u) => pool.join(room.id, u.token)));
    const seed = await sendAndAck(senders[0] as TestSocket, "seed");
    let sent = 0;
    let stop = false;
    // Three members reacting as fast as the room answers (reactions are not throttled), plus sends.
    const load = senders.map(async (s, n) => {
      let i = 0;
      while (!stop) {
        const k = i++;
        // Each emoji on, then off: every reaction is a change.
        s.send({ type: "react", seq: seed, emoji: `l${n}-${k % 7}`, on: Math.floor(k / 7) % 2 === 0 });
        await s.until((f) => f.type === "reaction" && f.userId === users[n + 1]?.id, 8000);
        s.frames.length = 0;
        sent++;
      }
    });
    // Readers joining at different points of the stream, each from version 0.
    const readers: TestSocket[] = [];
    for (let k = 0; k < 4; k++) {
      await new Promise((r) => setTimeout(r, 150));
      readers.push(await pool.since(room.id, users[0].token, 0));
    }
    await new Promise((r) => setTimeout(r, 800));
    stop = true;
    await Promise.all(load);
    expect(sent).toBeGreaterThan(20);
    const final = await roomVersion(room.id, users[0]);
    for (const r of readers) {
      await r.until((f) => f.v === final, 5000);
      const seen = r.frames.filter((f) => "v" in f);
      expect(versions(seen)).toEqual(range(1, final));
    }
  }, 60_000);
});

describe("membership and room changes", () => {
  it("records joins, removals, leaves and renames in the log, with system messages", async () => {
    const { room, users } = await roomWith(3);
    const [owner, bob, cyd] = [users[0], users[1] as TestUser, users[2] as TestUser];
    await runInDurableObject(stubFor(room.id), (instance: object) => {
      Object.assign(instance, { env: { ...env, SYSTEM_MESSAGES: "on" } });
    });
    const watcher = await pool.since(room.id, owner.token, 0);
    await catchUp(watcher);
    const rename = await exports.default.fetch(`http://edgechat.test/api/rooms/${room.id}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Renamed" }),
    });
    expect(rename.status).toBe(200);
    expect(await watcher.next("room")).toMatchObject({ name: "Renamed", by: owner.id, v: 1 });
    const renamed = await watcher.next("message");
    expect(renamed).toMatchObject({ kind: "system", system: { event: "renamed", name: "Renamed" }, v: 2 });
    expect(renamed.body).toContain("Renamed");

    expect((await api(`/api/rooms/${room.id}/members/${bob.id}`, owner.token, "DELETE")).status).toBe(204);
    expect(await watcher.next("member")).toMatchObject({ change: "removed", userId: bob.id, by: owner.id });
    expect(await watcher.next("message")).toMatchObject({
      kind: "system",
      system: { event: "removed", userId: bob.id, by: owner.id },
    });
    expect((await api(`/api/rooms/${room.id}/leave`, cyd.token, "POST")).status).toBe(204);
    expect(await watcher.next("member")).toMatchObject({ change: "left", userId: cyd.id });
    const left = await watcher.next("message");
    expect(left).toMatchObject({ kind: "system", senderId: cyd.id, system: { event: "left", userId: cyd.id } });

    // Written through: Postgres has the system messages with their kind, and the log entries.
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const logged = await db()
      .select({ kind: roomChanges.kind })
      .from(roomChanges)
      .where(and(eq(roomChanges.roomId, room.id)))
      .orderBy(asc(roomChanges.version));
    expect(logged.map((r) => r.kind)).toEqual(["room", "message", "member", "message", "member", "message"]);
  });
});
