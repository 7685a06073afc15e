/**
 * Room moderation through REST and WebSocket: bans (closed at once, no rejoin, no invitation, no
 * socket), mutes (read-only, across eviction), slow mode, deleting all of a member's messages.
 */
import { evictDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { moderationAudit } from "../../src/db/moderation-schema";
import { rooms } from "../../src/db/schema";
import { breakRedis } from "../helpers/faults";
import { createUser, db } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor, type TestUser } from "../helpers/rooms";
import { upgrade, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function api(method: string, path: string, token: string, body?: unknown) {
  const res = await exports.default.fetch(`http://edgechat.test${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

async function publicRoom() {
  const { room, users } = await roomWith(3);
  await db().update(rooms).set({ isPublic: true }).where(eq(rooms.id, room.id));
  return { room, owner: users[0], bob: users[1] as TestUser, cyd: users[2] as TestUser };
}

describe("bans", () => {
  it("close the member's sockets at once, and refuse rejoining, invitations, sockets and tickets", async () => {
    const { room, owner, bob } = await publicRoom();
    const watcher = await pool.since(room.id, owner.token, 0);
    await watcher.next("synced");
    const b = await pool.join(room.id, bob.token);
    const banned = await api("PUT", `/api/rooms/${room.id}/bans/${bob.id}`, owner.token, { reason: "spam" });
    expect(banned.status).toBe(200);
    expect(banned.json.sanction).toMatchObject({ userId: bob.id, kind: "ban", until: null, reason: "spam" });
    expect(await b.waitClosed()).toEqual({ code: 4003, reason: "banned from room" });
    expect(await watcher.next("member")).toMatchObject({ change: "banned", userId: bob.id, by: owner.id, until: null });

    expect((await api("POST", `/api/rooms/${room.id}/join`, bob.token)).json.error.code).toBe("banned");
    expect((await api("POST", `/api/rooms/${room.id}/members`, owner.token, { userId: bob.id })).json.error.code).toBe(
      "banned",
    );
    expect((await upgrade(room.id, { Authorization: `Bearer ${bob.token}` })).status).toBe(404);
    expect((await api("POST", `/api/rooms/${room.id}/ws-ticket`, bob.token)).status).toBe(404);
    expect((await api("GET", `/api/rooms/${room.id}/messages`, bob.token)).status).toBe(404);
    const [entry] = await db()
      .select()
      .from(moderationAudit)
      .where(and(eq(moderationAudit.roomId, room.id), eq(moderationAudit.action, "ban")));
    expect(entry).toMatchObject({ actorId: owner.id, targetUserId: bob.id, reason: "spam" });

    // Lifted: the public room can be joined again.
    expect((await api("DELETE", `/api/rooms/${room.id}/bans/${bob.id}`, owner.token)).status).toBe(204);
    expect(await watcher.next("member")).toMatchObject({ change: "unbanned", userId: bob.id });
    expect((await api("POST", `/api/rooms/${room.id}/join`, bob.token)).status).toBe(201);
  });

  it("end by themselves when their time is up, and only moderators of a higher rank may ban", async () => {
    const { room, owner, bob, cyd } = await publicRoom();
    expect((await api("PUT", `/api/rooms/${room.id}/bans/${cyd.id}`, bob.token, {})).status).toBe(403);
    expect((await api("PUT", `/api/rooms/${room.id}/bans/${owner.id}`, owner.token, {})).status).toBe(409);
    const ban = await api("PUT", `/api/rooms/${room.id}/bans/${bob.id}`, owner.token, { durationSeconds: 1 });
    expect(Date.parse(ban.json.sanction.until) - Date.now()).toBeLessThanOrEqual(1000);
    expect((await api("POST", `/api/rooms/${room.id}/join`, bob.token)).status).toBe(403);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await api("POST", `/api/rooms/${room.id}/join`, bob.token)).status).toBe(201);
    for (const bad of [{ durationSeconds: 0 }, { durationSeconds: "soon" }, { until: "never" }]) {
      expect((await api("PUT", `/api/rooms/${room.id}/bans/${cyd.id}`, owner.token, bad)).status).toBe(400);
    }
  });
});

describe("mutes", () => {
  it("make a member read-only over WebSocket and REST, across eviction and with Redis down", async () => {
    const { room, owner, bob } = await publicRoom();
    const b = await pool.join(room.id, bob.token);
    const seq = await sendAndAck(b, "before-mute");
    expect((await api("PUT", `/api/rooms/${room.id}/mutes/${bob.id}`, owner.token, {})).status).toBe(200);
    const stub = stubFor(room.id);
    await evictDurableObject(stub);
    await breakRedis(stub);
    const again = await pool.join(room.id, bob.token);
    again.send({ type: "send", clientMsgId: "muted-1", body: "let me speak" });
    expect(await again.next("error")).toMatchObject({ code: "muted", ref: "muted-1" });
    again.send({ type: "react", seq, emoji: "👍", on: true });
    expect(await again.next("error")).toMatchObject({ code: "muted" });
    const rest = await api("POST", `/api/rooms/${room.id}/messages`, bob.token, { clientMsgId: "m2", body: "x" });
    expect(rest.status).toBe(403);
    expect(rest.json.error.code).toBe("muted");
    // Reading is still allowed.
    again.send({ type: "read", seq });
    expect(await again.next("receipt")).toMatchObject({ userId: bob.id, seq });
    expect((await api("DELETE", `/api/rooms/${room.id}/mutes/${bob.id}`, owner.token)).status).toBe(204);
    expect(await sendAndAck(again, "after-mute")).toBe(seq + 1);
  });
});

describe("slow mode", () => {
  it("holds a member to one message per N seconds, names itself, and exempts admins", async () => {
    const { room, owner, bob } = await publicRoom();
    const set = await api("PATCH", `/api/rooms/${room.id}`, owner.token, { slowModeSeconds: 30 });
    expect(set.status).toBe(200);
    expect(set.json.room.slowModeSeconds).toBe(30);
    const b = await pool.join(room.id, bob.token);
    await sendAndAck(b, "slow-1");
    b.send({ type: "send", clientMsgId: "slow-2", body: "again" });
    const t = await b.next("throttled");
    expect(t).toMatchObject({ reason: "slow_mode", clientMsgId: "slow-2" });
    expect(t.retryAfterMs).toBeGreaterThan(29_000);
    expect(t.retryAfterMs).toBeLessThanOrEqual(30_000);
    const rest = await api("POST", `/api/rooms/${room.id}/messages`, bob.token, { clientMsgId: "slow-3", body: "x" });
    expect(rest.status).toBe(429);
    expect(rest.json.error.details.reason).toBe("slow_mode");
    const o = await pool.join(room.id, owner.token);
    await sendAndAck(o, "owner-1");
    await sendAndAck(o, "owner-2");
    expect((await api("PATCH", `/api/rooms/${room.id}`, owner.token, { slowModeSeconds: 0 })).status).toBe(200);
    await sendAndAck(b, "slow-4");
    expect((await api("PATCH", `/api/rooms/${room.id}`, owner.token, { slowModeSeconds: -1 })).status).toBe(400);
    expect((await api("PATCH", `/api/rooms/${room.id}`, bob.token, { slowModeSeconds: 5 })).status).toBe(403);
  });
});

describe("purge", () => {
  it("deletes every message of a member in one action, each a change in the log", async () => {
    const { room, owner, bob, cyd } = await publicRoom();
    const b = await pool.join(room.id, bob.token);
    const c = await pool.join(room.id, cyd.token);
    const mine = [await sendAndAck(b, "p1"), await sendAndAck(b, "p2")];
    const theirs = await sendAndAck(c, "p3");
    const watcher = await pool.since(room.id, owner.token, 0);
    await watcher.next("synced");
    const res = await api("DELETE", `/api/rooms/${room.id}/members/${bob.id}/messages`, owner.token);
    expect(res.json).toEqual({ deleted: 2 });
    expect((await watcher.next("deleted")).seq).toBe(mine[0]);
    expect((await watcher.next("deleted")).seq).toBe(mine[1]);
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const page = await api("GET", `/api/rooms/${room.id}/messages`, owner.token);
    const bySeq = new Map(page.json.messages.map((m: { seq: number }) => [m.seq, m]));
    expect(bySeq.get(mine[0])).toMatchObject({ body: null, deletedAt: expect.any(String) });
    expect(bySeq.get(theirs)).toMatchObject({ body: "body of p3" });
    expect((await api("DELETE", `/api/rooms/${room.id}/members/${owner.id}/messages`, bob.token)).status).toBe(403);
  });
});

describe("blocks", () => {
  it("hide a blocked member's messages, reactions and typing from the blocker only, everywhere", async () => {
    const { room, owner: ana, bob, cyd } = await publicRoom();
    expect((await api("PUT", `/api/me/blocks/${bob.id}`, ana.token)).status).toBe(204);
    expect((await api("GET", "/api/me/blocks", ana.token)).json.blocks).toMatchObject([{ userId: bob.id }]);
    const a = await pool.since(room.id, ana.token, 0);
    await a.next("synced");
    const c = await pool.since(room.id, cyd.token, 0);
    await c.next("synced");
    const b = await pool.join(room.id, bob.token);
    const seq = await sendAndAck(b, "blocked-words", "you should not see this");
    b.send({ type: "typing", on: true });
    b.send({ type: "react", seq, emoji: "😀", on: true });
    expect(await c.next("message")).toMatchObject({ seq, body: "you should not see this" });
    expect(await c.next("typing")).toMatchObject({ userId: bob.id });
    expect(await a.next("hidden")).toEqual({ type: "hidden", v: expect.any(Number), seq });
    expect(await a.next("hidden")).toEqual({ type: "hidden", v: expect.any(Number) });
    expect(a.frames.some((f) => f.type === "typing" || f.type === "message")).toBe(false);

    // Catch-up, history and search hide it too; the blocked user sees nothing different.
    const later = await pool.since(room.id, ana.token, 0);
    await later.next("synced");
    expect(JSON.stringify(later.frames)).not.toContain("should not see");
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const page = await api("GET", `/api/rooms/${room.id}/messages`, ana.token);
    expect(page.json.messages.find((m: { seq: number }) => m.seq === seq)).toMatchObject({ hidden: true, body: null });
    expect((await api("GET", `/api/search?q=should`, ana.token)).json.results).toEqual([]);
    expect((await api("GET", `/api/search?q=should`, cyd.token)).json.results).toHaveLength(1);
    expect((await api("GET", "/api/me/blocks", bob.token)).json.blocks).toEqual([]);
    // A reply by the blocked member is not counted for the blocker (live, its stand-in says nothing).
    const root = await sendAndAck(await pool.join(room.id, cyd.token), "root");
    b.send({ type: "send", clientMsgId: "blocked-reply", body: "re", replyTo: root });
    await b.next("ack");
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const rootFor = async (token: string) =>
      (await api("GET", `/api/rooms/${room.id}/messages`, token)).json.messages.find(
        (m: { seq: number }) => m.seq === root,
      );
    expect(await rootFor(ana.token)).toMatchObject({ replyCount: 0 });
    expect(await rootFor(cyd.token)).toMatchObject({ replyCount: 1 });
    a.frames.length = 0;

    // Unblocked: visible again, live and in history.
    expect((await api("DELETE", `/api/me/blocks/${bob.id}`, ana.token)).status).toBe(204);
    const again = await sendAndAck(b, "visible-again", "hello again");
    expect(await a.next("message")).toMatchObject({ seq: again, body: "hello again" });
    const after = await api("GET", `/api/rooms/${room.id}/messages`, ana.token);
    expect(after.json.messages.find((m: { seq: number }) => m.seq === seq)).toMatchObject({ body: expect.any(String) });
  });

  it("refuse direct rooms and sends between the two, either way, and bad input", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const direct = await api("POST", "/api/rooms/direct", ana.token, { userId: bob.id });
    expect(direct.status).toBe(201);
    const roomId = direct.json.room.id as string;
    expect((await api("PUT", `/api/me/blocks/${bob.id}`, ana.token)).status).toBe(204);
    const b = await pool.join(roomId, bob.token);
    b.send({ type: "send", clientMsgId: "d1", body: "hi" });
    expect(await b.next("error")).toMatchObject({ code: "blocked", ref: "d1" });
    const rest = await api("POST", `/api/rooms/${roomId}/messages`, ana.token, { clientMsgId: "d2", body: "hi" });
    expect(rest.status).toBe(403);
    expect(rest.json.error.code).toBe("blocked");
    const cyd = await createUser("cyd");
    expect((await api("PUT", `/api/me/blocks/${ana.id}`, cyd.token)).status).toBe(204);
    expect((await api("POST", "/api/rooms/direct", ana.token, { userId: cyd.id })).json.error.code).toBe("blocked");
    expect((await api("PUT", `/api/me/blocks/${ana.id}`, ana.token)).status).toBe(422);
    expect((await api("PUT", `/api/me/blocks/${crypto.randomUUID()}`, ana.token)).status).toBe(404);
    expect((await api("PUT", "/api/me/blocks/not-a-uuid", ana.token)).status).toBe(404);
    expect((await api("DELETE", `/api/me/blocks/${bob.id}`, ana.token)).status).toBe(204);
    expect(await sendAndAck(b, "d3")).toBe(1);
  });
});
