/**
 * The inbox (issue 25), integration against the real room objects, Postgres and the queue: one socket per
 * device carrying every room's badge and preview, list changes, notifications and direct-room presence,
 * coalesced by the rooms and caught up after a gap. (Socket rules, bad input and eviction:
 * inbox-socket.test.ts.)
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";
import type { InboxRoom } from "../../src/protocol/inbox";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { inboxFor, inboxUntil, liveInbox, nextRoom, openInbox } from "../helpers/inbox";
import { roomWith, sendAndAck, stubFor, type TestUser } from "../helpers/rooms";
import { type Frame, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

const send = (roomId: string, token: string, clientMsgId: string, body = `text of ${clientMsgId}`) =>
  api("POST", `/api/rooms/${roomId}/messages`, token, { clientMsgId, body });

/** Every `room` delta about `roomId` that has arrived so far (left in place). */
const roomDeltas = (frames: Frame[], roomId: string) =>
  frames.filter((f) => f.type === "room" && (f.room as InboxRoom).id === roomId).map((f) => f.room as InboxRoom);

describe("snapshot on connect", () => {
  it("lists every room with its badge, preview, read mark and peer, newest activity first, and notifications", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const quiet = await createRoom(ana.id, [ben.id]);
    const busy = await createRoom(ana.id, [ben.id]);
    await send(busy.id, ana.token, "b1", "first");
    await send(busy.id, ben.token, "b2", "mine");
    await send(busy.id, ana.token, "b3", "last one");
    const direct = (await api("POST", "/api/rooms/direct", ben.token, { userId: ana.id })).json.room;
    await send(direct.id, ana.token, "d1", "psst");
    await stubFor(busy.id).drainOutbox();
    await stubFor(direct.id).drainOutbox();

    const socket = await openInbox(pool, ben.token);
    const snapshot = await socket.next("snapshot");
    expect(snapshot).toMatchObject({ n: 0, you: ben.id, totalUnread: 3 });
    expect(typeof snapshot.epoch).toBe("string");
    const rooms = snapshot.rooms as InboxRoom[];
    expect(rooms.map((r) => r.id)).toEqual([direct.id, busy.id, quiet.id]);
    expect(rooms[0]).toMatchObject({
      kind: "direct",
      name: null,
      peer: { id: ana.id, displayName: "ana" },
      unread: 1,
      lastMessage: { seq: 1, senderId: ana.id, senderName: "ana", body: "psst" },
    });
    // Unread excludes my own message; the preview is the last one.
    expect(rooms[1]).toMatchObject({
      kind: "group",
      lastSeq: 3,
      readMark: 0,
      unread: 2,
      lastMessage: { body: "last one" },
    });
    expect(rooms[2]).toMatchObject({ lastSeq: 0, unread: 0, lastMessage: null });
    expect(snapshot.notifications).toMatchObject({ unread: expect.any(Number), latest: expect.any(Array) });
  });
});

describe("live badges and previews", () => {
  it("update within a second of a message in any room, with the sender's name", async () => {
    const { room, users } = await roomWith(2);
    const [ana, ben] = users as [TestUser, TestUser];
    const { socket, snapshot } = await liveInbox(pool, ben);
    expect(snapshot.rooms).toEqual([expect.objectContaining({ id: room.id, unread: 0, lastSeq: 0 })]);
    const sender = await pool.join(room.id, ana.token);
    const sentAt = Date.now();
    await sendAndAck(sender, "m1", "hello @u1");
    const entry = await nextRoom(socket, room.id, (r) => r.lastSeq === 1);
    expect(Date.now() - sentAt).toBeLessThan(1000 + 500);
    expect(entry).toMatchObject({
      unread: 1,
      mentions: 1,
      lastMessage: { seq: 1, senderId: ana.id, body: "hello @u1" },
    });
    // Ana never had an inbox, so the room could not name her: the name follows once the inbox read it.
    const named = await nextRoom(socket, room.id, (r) => (r.lastMessage as { senderName: string }).senderName !== null);
    expect(named).toMatchObject({ lastSeq: 1, lastMessage: { senderName: "u0" } });
    // Once Ana has had an inbox, the room names her itself: one delta with the name.
    await liveInbox(pool, ana);
    await sendAndAck(sender, "m2", "named at once");
    expect(await nextRoom(socket, room.id, (r) => r.lastSeq === 2)).toMatchObject({
      lastMessage: { senderName: "u0" },
    });
  });

  it("a read on one device clears the badge on the other", async () => {
    const { room, users } = await roomWith(2);
    const [ana, ben] = users as [TestUser, TestUser];
    const phone = await liveInbox(pool, ben);
    const laptop = await liveInbox(pool, ben);
    await send(room.id, ana.token, "r1");
    await send(room.id, ana.token, "r2");
    await nextRoom(phone.socket, room.id, (r) => r.unread === 2);
    await nextRoom(laptop.socket, room.id, (r) => r.unread === 2);
    // Read on the phone's room socket: the laptop's inbox clears too.
    const phoneRoom = await pool.join(room.id, ben.token);
    phoneRoom.send({ type: "read", seq: 2 });
    expect(await nextRoom(laptop.socket, room.id, (r) => r.unread === 0)).toMatchObject({ readMark: 2, lastSeq: 2 });
    expect(await nextRoom(phone.socket, room.id, (r) => r.unread === 0)).toMatchObject({ readMark: 2 });
  });

  it("coalesces: many messages in one window make one update per inbox", async () => {
    const { room, users } = await roomWith(6);
    const senders = users.slice(0, 4);
    const [ben, cyd] = users.slice(4) as [TestUser, TestUser];
    const b = await liveInbox(pool, ben);
    const c = await liveInbox(pool, cyd);
    // A first message after a quiet spell goes at once and opens the window.
    await send(room.id, (senders[3] as TestUser).token, "c0");
    await nextRoom(b.socket, room.id, (r) => r.lastSeq === 1);
    await nextRoom(c.socket, room.id, (r) => r.lastSeq === 1);
    const pushesBefore = (await inboxFor(ben.id).stats()).pushes;
    // 11 more (each sender's throttle allows 3 per 5 s), all at once: they land in the next window.
    const burst = senders.flatMap((s, i) => [1, 2, 3].map((k) => ({ s, id: `c${i}-${k}` }))).slice(0, 11);
    const answers = await Promise.all(burst.map(({ s, id }) => send(room.id, s.token, id, "x")));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    for (const s of [b.socket, c.socket]) {
      expect(await nextRoom(s, room.id, (r) => r.lastSeq === 12)).toMatchObject({ unread: 12 });
      // Nothing in between: the burst was one update (a sender's name may follow an update, at its seq).
      expect(roomDeltas(s.frames, room.id).filter((r) => r.lastSeq > 1 && r.lastSeq < 12)).toEqual([]);
    }
    expect((await inboxFor(ben.id).stats()).pushes - pushesBefore).toBe(1);
  });

  it("a room renamed by an admin, and the list changes when I am added, removed, or leave on another device", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const first = await createRoom(ana.id, [ben.id]);
    const { socket } = await liveInbox(pool, ben);
    await api("PATCH", `/api/rooms/${first.id}`, ana.token, { name: "renamed" });
    expect(await nextRoom(socket, first.id, (r) => r.name === "renamed")).toMatchObject({ name: "renamed" });

    const second = await createRoom(ana.id);
    expect((await api("POST", `/api/rooms/${second.id}/members`, ana.token, { userId: ben.id })).status).toBe(201);
    expect(await nextRoom(socket, second.id)).toMatchObject({ id: second.id, role: "member", unread: 0 });
    await inboxUntil(ben.id, (s) => s.rooms === 2 && s.watching === 2);
    await send(second.id, ana.token, "s1");
    await nextRoom(socket, second.id, (r) => r.unread === 1);

    expect((await api("DELETE", `/api/rooms/${second.id}/members/${ben.id}`, ana.token)).status).toBe(204);
    const removed = await socket.next("room.removed");
    expect(removed).toMatchObject({ roomId: second.id, reason: "removed" });
    expect((await api("POST", `/api/rooms/${first.id}/leave`, ben.token)).status).toBe(204);
    expect(await socket.next("room.removed")).toMatchObject({ roomId: first.id, reason: "left" });
    expect((await inboxFor(ben.id).stats()).rooms).toBe(0);
    // Numbers stay gapless across every kind of delta.
    const ns = socket.frames.filter((f) => typeof f.n === "number").map((f) => f.n as number);
    expect(ns).toEqual([...ns].sort((a, b) => a - b));
  });

  it("a ban (through the room's log) and a room deleted by an admin drop the room", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const banned = await createRoom(ana.id, [ben.id]);
    const doomed = await createRoom(ana.id, [ben.id]);
    const { socket } = await liveInbox(pool, ben);
    expect((await api("PUT", `/api/rooms/${banned.id}/bans/${ben.id}`, ana.token, { reason: "spam" })).status).toBe(
      200,
    );
    expect(await socket.next("room.removed", 4000)).toMatchObject({ roomId: banned.id, reason: "banned" });

    const admin = await createUser("admin");
    await db().update(users).set({ isAdmin: true }).where(eq(users.id, admin.id));
    expect((await api("DELETE", `/api/admin/rooms/${doomed.id}`, admin.token)).status).toBe(204);
    expect(await socket.next("room.removed")).toMatchObject({ roomId: doomed.id, reason: "deleted" });
    expect((await inboxFor(ben.id).stats()).rooms).toBe(0);
  });
});

describe("catch-up after a gap", () => {
  it("a device back within the grace period gets exactly the deltas it missed, then live ones", async () => {
    const { room, users } = await roomWith(3);
    const [ana, ben, cyd] = users as [TestUser, TestUser, TestUser];
    const stay = await liveInbox(pool, ben);
    const away = await openInbox(pool, ben.token);
    const first = await away.next("snapshot");
    await send(room.id, ana.token, "g1");
    await nextRoom(away, room.id, (r) => r.lastSeq === 1);
    const had = (await inboxFor(ben.id).stats()).n;
    away.close();
    await send(room.id, ana.token, "g2");
    await send(room.id, ana.token, "g3");
    await nextRoom(stay.socket, room.id, (r) => r.lastSeq === 3);

    const back = await openInbox(pool, ben.token, `?epoch=${first.epoch}&since=${had}`);
    const synced = await back.next("synced");
    expect(synced).toMatchObject({ epoch: first.epoch, fromN: had });
    expect(back.frames.find((f) => f.type === "snapshot")).toBeUndefined();
    const missed = back.frames.filter((f) => typeof f.n === "number");
    expect(missed.map((f) => f.n)).toEqual(Array.from({ length: missed.length }, (_, i) => had + 1 + i));
    expect(missed.at(-1)?.n).toBe(synced.toN);
    expect(roomDeltas(missed, room.id).at(-1)).toMatchObject({ lastSeq: 3, unread: 3 });
    // Then live.
    await send(room.id, cyd.token, "g4");
    await nextRoom(back, room.id, (r) => r.lastSeq === 4);
  });

  it("a device with another epoch, or a number the inbox no longer has, gets a fresh snapshot", async () => {
    const { room, users } = await roomWith(2);
    const [ana, ben] = users as [TestUser, TestUser];
    const { socket } = await liveInbox(pool, ben);
    await send(room.id, ana.token, "e1");
    await nextRoom(socket, room.id, (r) => r.lastSeq === 1);
    const stale = await openInbox(pool, ben.token, `?epoch=${crypto.randomUUID()}&since=3`);
    expect(await stale.next("snapshot")).toMatchObject({ rooms: [expect.objectContaining({ lastSeq: 1 })] });
    const ahead = await openInbox(pool, ben.token, `?epoch=${(await inboxFor(ben.id).stats()).epoch}&since=999`);
    expect(await ahead.next("snapshot")).toMatchObject({ rooms: [expect.objectContaining({ lastSeq: 1 })] });
  });

  it("every inbox ends equal to what Postgres says (GET /api/rooms)", async () => {
    const { room, users } = await roomWith(3);
    const [ana, ben, cyd] = users as [TestUser, TestUser, TestUser];
    const other = await createRoom(cyd.id, [ben.id]);
    const { socket } = await liveInbox(pool, ben);
    await send(room.id, ana.token, "p1");
    await send(room.id, ben.token, "p2");
    await send(other.id, cyd.token, "p3");
    await api("POST", `/api/rooms/${room.id}/read`, ben.token, { seq: 1 });
    await send(room.id, cyd.token, "p4");
    await stubFor(room.id).drainOutbox();
    await stubFor(other.id).drainOutbox();
    await nextRoom(socket, room.id, (r) => r.lastSeq === 3 && r.readMark === 1);
    await nextRoom(socket, other.id, (r) => r.lastSeq === 1);
    const listed = (await api("GET", "/api/rooms", ben.token)).json.rooms as {
      id: string;
      unread: number;
      lastSeq: number;
    }[];
    const fresh = await openInbox(pool, ben.token);
    const held = (await fresh.next("snapshot")).rooms as InboxRoom[];
    for (const r of listed) {
      expect(held.find((h) => h.id === r.id)).toMatchObject({ unread: r.unread, lastSeq: r.lastSeq });
    }
    expect(listed.find((r) => r.id === room.id)?.unread).toBe(1);
  });
});

describe("notifications", () => {
  it("are listed as they are created, and the unread count clears on every device when read anywhere", async () => {
    const { room, users } = await roomWith(2);
    const [ana, ben] = users as [TestUser, TestUser];
    const phone = await liveInbox(pool, ben);
    const laptop = await liveInbox(pool, ben);
    // Ben has no room socket open: the room queues a notification for him (a digest).
    await send(room.id, ana.token, "n1", "are you there?");
    const created = await phone.socket.next("notifications", 8000);
    expect(created).toMatchObject({ unread: 1, changed: [expect.objectContaining({ roomId: room.id, read: false })] });
    await laptop.socket.next("notifications", 3000);
    expect((await api("POST", "/api/notifications/read", ben.token, { all: true })).json.unread).toBe(0);
    for (const device of [phone.socket, laptop.socket]) {
      expect(await device.next("notifications")).toMatchObject({
        unread: 0,
        changed: [expect.objectContaining({ read: true })],
      });
    }
  });
});

describe("direct rooms", () => {
  it("name the other person in every view, and the inbox shows whether they are online", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const created = await api("POST", "/api/rooms/direct", ana.token, { userId: ben.id });
    expect(created.json.room).toMatchObject({ kind: "direct", peer: { id: ben.id, displayName: "ben" } });
    const roomId = created.json.room.id as string;
    expect((await api("GET", `/api/rooms/${roomId}`, ben.token)).json.room.peer).toEqual({
      id: ana.id,
      displayName: "ana",
      kind: "user",
    });
    const listed = (await api("GET", "/api/rooms", ben.token)).json.rooms;
    expect(listed[0]).toMatchObject({ id: roomId, peer: { id: ana.id, displayName: "ana" } });
    const group = await createRoom(ana.id);
    expect((await api("GET", `/api/rooms/${group.id}`, ana.token)).json.room.peer).toBeNull();

    const anaInbox = await liveInbox(pool, ana);
    expect((anaInbox.snapshot.rooms as InboxRoom[]).find((r) => r.id === roomId)?.peer).toMatchObject({
      id: ben.id,
      displayName: "ben",
      online: false,
    });
    const benInbox = await liveInbox(pool, ben);
    expect(await nextRoom(anaInbox.socket, roomId, (r) => (r.peer as { online: boolean }).online)).toBeTruthy();
    benInbox.socket.close();
    const away = await nextRoom(anaInbox.socket, roomId, (r) => !(r.peer as { online: boolean }).online);
    expect((away.peer as { lastSeenAt: string }).lastSeenAt).toEqual(expect.any(String));
  });
});
