/**
 * The inbox socket's rules (issue 25): the same ticket / Bearer / Origin rules as room sockets, bad frames
 * answered with `error` frames, and an inbox object that hibernates or is evicted keeping its devices and
 * its state. (What it carries: inbox.test.ts.)
 */
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";
import type { InboxRoom } from "../../src/protocol/inbox";
import { createRoom, createUser, db, sessionToken } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { inboxFor, inboxUntil, inboxUpgrade, liveInbox, nextRoom, openInbox } from "../helpers/inbox";
import { roomWith, stubFor, type TestUser } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function inboxTicket(token: string) {
  return exports.default.fetch("http://edgechat.test/api/me/ws-ticket", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
}

describe("upgrades", () => {
  it("open with a single-use ticket from an allowed origin, and refuse the same ticket twice", async () => {
    const ana = await createUser("ana");
    const res = await inboxTicket(ana.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { ticket, expiresIn } = (await res.json()) as { ticket: string; expiresIn: number };
    expect(expiresIn).toBe(30);
    const query = `?ticket=${encodeURIComponent(ticket)}`;
    const first = await inboxUpgrade({ Origin: "http://localhost:8787" }, query);
    expect(first.status).toBe(101);
    const socket = pool.adopt(first.webSocket as WebSocket);
    expect(await socket.next("snapshot")).toMatchObject({ you: ana.id, rooms: [] });
    expect((await inboxUpgrade({}, query)).status).toBe(401);
  });

  it("refuse what room sockets refuse: 401 without a credential, 403 from a foreign origin, 426 without an upgrade", async () => {
    const ana = await createUser("ana");
    expect((await inboxUpgrade({})).status).toBe(401);
    expect((await inboxUpgrade({ Authorization: "Bearer not-a-token" })).status).toBe(401);
    expect((await inboxUpgrade({}, "?ticket=forged")).status).toBe(401);
    const foreign = await inboxUpgrade({ Authorization: `Bearer ${ana.token}`, Origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    const plain = await exports.default.fetch("http://edgechat.test/api/me/ws", {
      headers: { Authorization: `Bearer ${ana.token}` },
    });
    expect(plain.status).toBe(426);
    // A room's ticket does not open the inbox (and the inbox's opens no room).
    const room = await createRoom(ana.id);
    const roomTicket = (await (
      await exports.default.fetch(`http://edgechat.test/api/rooms/${room.id}/ws-ticket`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ana.token}` },
      })
    ).json()) as { ticket: string };
    expect((await inboxUpgrade({}, `?ticket=${encodeURIComponent(roomTicket.ticket)}`)).status).toBe(401);
    const { ticket } = (await (await inboxTicket(ana.token)).json()) as { ticket: string };
    const intoRoom = await exports.default.fetch(
      `http://edgechat.test/api/rooms/${room.id}/ws?ticket=${encodeURIComponent(ticket)}`,
      { headers: { Upgrade: "websocket" } },
    );
    expect(intoRoom.status).toBe(401);
  });

  it("always reach the caller's own inbox: identity headers a client forges are ignored", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const res = await inboxUpgrade({ Authorization: `Bearer ${ana.token}`, "x-edgechat-user-id": ben.id });
    const socket = pool.adopt(res.webSocket as WebSocket);
    expect((await socket.next("snapshot")).you).toBe(ana.id);
    expect((await inboxFor(ben.id).stats()).sockets).toBe(0);
  });
});

describe("bad frames", () => {
  it("get an error frame and the socket stays open; a frame too large closes it with 1009", async () => {
    const ana = await createUser("ana");
    const socket = await openInbox(pool, ana.token);
    await socket.next("snapshot");
    socket.send("not json");
    expect(await socket.next("error")).toMatchObject({ code: "bad_frame" });
    socket.send({ type: "send", body: "inboxes take no messages" });
    expect(await socket.next("error")).toMatchObject({ code: "unknown_frame_type" });
    socket.send({ type: { toString: 1 } });
    expect(await socket.next("error")).toMatchObject({ code: "unknown_frame_type" });
    socket.send({ type: "auth.refresh" });
    expect(await socket.next("error")).toMatchObject({ code: "bad_frame", ref: "auth.refresh" });
    socket.send({ type: "auth.refresh", token: "forged" });
    expect(await socket.next("error")).toMatchObject({ code: "unauthorized", ref: "auth.refresh" });
    socket.ws.send(new Uint8Array([1, 2, 3]));
    expect(await socket.next("error")).toMatchObject({ code: "bad_frame" });
    socket.send({ type: "ping", extra: 1 });
    expect(await socket.next("error")).toMatchObject({ code: "bad_frame", ref: "ping" });
    socket.send({ type: "ping" });
    await socket.next("pong");
    socket.send({ type: "stats" });
    expect(await socket.next("stats")).toMatchObject({ userId: ana.id, session: "on", sockets: 1 });
    socket.send(JSON.stringify({ type: "ping", pad: "x".repeat(20_000) }));
    expect((await socket.waitClosed()).code).toBe(1009);
  });

  it("a valid auth.refresh extends the socket", async () => {
    const ana = await createUser("ana");
    const socket = await openInbox(pool, ana.token);
    await socket.next("snapshot");
    const { token } = await sessionToken(ana.id);
    socket.send({ type: "auth.refresh", token });
    expect(await socket.next("auth.refreshed")).toMatchObject({ expiresAt: expect.any(Number) });
  });
});

describe("hibernation and eviction of the inbox", () => {
  it("keeps its devices and its state; the next push wakes it and reaches the same socket", async () => {
    const { room, users } = await roomWith(2);
    const [ana, ben] = users as [TestUser, TestUser];
    const { socket, snapshot } = await liveInbox(pool, ben);
    await evictDurableObject(inboxFor(ben.id));
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "e1", body: "after eviction" });
    expect(await nextRoom(socket, room.id, (r) => r.lastSeq === 1)).toMatchObject({ unread: 1 });
    const stats = await inboxFor(ben.id).stats();
    expect(stats).toMatchObject({ epoch: snapshot.epoch, session: "on", sockets: 1, watching: 1 });
    // A second device after another eviction gets the state the inbox kept, in the same epoch.
    await evictDurableObject(inboxFor(ben.id));
    const second = await openInbox(pool, ben.token);
    const again = await second.next("snapshot");
    expect(again.epoch).toBe(snapshot.epoch);
    expect((again.rooms as InboxRoom[])[0]).toMatchObject({
      lastSeq: 1,
      unread: 1,
      lastMessage: { body: "after eviction" },
    });
    // Evicting the room too: its watch list is in its SQLite.
    await evictDurableObject(stubFor(room.id));
    await api("POST", `/api/rooms/${room.id}/read`, ben.token, { seq: 1 });
    expect(await nextRoom(second, room.id, (r) => r.unread === 0)).toMatchObject({ readMark: 1 });
  });

  it("ends the session after the grace period; a later device starts a new epoch from Postgres", async () => {
    const { room, users } = await roomWith(2);
    const [ana, ben] = users as [TestUser, TestUser];
    const { socket, snapshot } = await liveInbox(pool, ben);
    socket.close();
    await inboxUntil(ben.id, (s) => s.sockets === 0);
    // The grace period has not passed: the alarm keeps the session.
    await runDurableObjectAlarm(inboxFor(ben.id));
    expect((await inboxFor(ben.id).stats()).session).toBe("on");
    // Past it (the alarm runs as if later): the session ends, and the room's next push is answered "gone".
    await runAsIfLater(ben.id, 60_000);
    expect((await inboxFor(ben.id).stats()).session).toBe("off");
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "x1", body: "nobody home" });
    const fresh = await openInbox(pool, ben.token);
    const next = await fresh.next("snapshot");
    expect(next.epoch).not.toBe(snapshot.epoch);
    // Read from Postgres, which may trail the room by its write-through; the room's answer to the new
    // registration then brings the entry to the room's state.
    const entry = (next.rooms as InboxRoom[])[0] as InboxRoom;
    if (entry.lastSeq !== 1) await nextRoom(fresh, room.id, (r) => r.lastSeq === 1);
  });
});

/** Runs the inbox's alarm with its clock moved `ms` ahead (the grace period is measured from the last close). */
async function runAsIfLater(userId: string, ms: number) {
  const { runInDurableObject } = await import("cloudflare:test");
  await runInDurableObject(inboxFor(userId), async (_instance, state) => {
    const closedAt = Number(
      state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'closedAt'").one().value,
    );
    state.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'closedAt'", String(closedAt - ms));
  });
  // The object caches meta in memory: evict it so the moved time is read back.
  await evictDurableObject(inboxFor(userId));
  await runDurableObjectAlarm(inboxFor(userId));
}

describe("sessions ending", () => {
  it("closes every inbox socket of a user an admin bans, at once (4003), not when the token runs out", async () => {
    const ana = await createUser("ana");
    const boss = await createUser("boss");
    await db().update(users).set({ isAdmin: true }).where(eq(users.id, boss.id));
    const phone = await openInbox(pool, ana.token);
    const laptop = await openInbox(pool, ana.token);
    await phone.next("snapshot");
    await laptop.next("snapshot");
    const res = await api("POST", `/api/admin/users/${ana.id}/ban`, boss.token, { reason: "spam" });
    expect(res.status).toBeLessThan(300);
    expect((await phone.waitClosed()).code).toBe(4003);
    expect((await laptop.waitClosed()).code).toBe(4003);
  });
});
