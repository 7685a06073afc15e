/**
 * The SDK's room state against the real room (protocol 2): a client that was away catches up on every
 * kind of change (from Postgres, past the room's own log, after an eviction) and ends with the state of
 * the clients that stayed and of a fresh load from REST; sends stay in order across throttling and
 * reconnects; unacked sends survive a "reload" through the outbox storage and are stored once; a room
 * that cannot continue from the client's version (resync_required) is reloaded; a change seen twice is
 * dropped and one ahead of order makes the client ask for what lies between.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import {
  type ChangeFrame,
  EdgechatClient,
  memoryOutboxStorage,
  messageList,
  type OutboxStorage,
  type RoomConnection,
  type RoomState,
  reactionCount,
  type Session,
  type SocketLike,
} from "../../src/client";
import { messages } from "../../src/db/schema";
import { db } from "../helpers/fixtures";
import { stubFor } from "../helpers/rooms";
import { type UpgradeSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const until = (check: () => boolean, timeout = 15_000) => vi.waitUntil(check, { timeout, interval: 20 });

/** Wraps the pool's socket so a test can stop the frames coming in while the client's go out. */
class Deafenable implements SocketLike {
  deaf = false;
  constructor(readonly inner: UpgradeSocket) {}
  get readyState() {
    return this.inner.readyState;
  }
  send(data: string) {
    this.inner.send(data);
  }
  close(code?: number, reason?: string) {
    this.inner.close(code, reason);
  }
  addEventListener(type: string, listener: (e: never) => void): void {
    const l = listener as (e: unknown) => void;
    this.inner.addEventListener(type, type === "message" ? (e: unknown) => this.deaf || l(e) : l);
  }
}

/** A client whose network can be turned off: REST fails and open sockets drop. */
function device(session?: Session) {
  const net = { offline: false, sockets: [] as Deafenable[] };
  const client = pool.track(
    new EdgechatClient({
      baseUrl: "http://edgechat.test",
      ...(session ? { session } : {}),
      fetch: (input, init) =>
        net.offline ? Promise.reject(new TypeError("offline")) : exports.default.fetch(input as string, init),
      webSocket: (url) => {
        const s = new Deafenable(pool.sdkSocket(url));
        net.sockets.push(s);
        return s;
      },
    }),
  );
  return {
    client,
    net,
    socket: () => net.sockets.filter((s) => s.readyState === 1).at(-1),
    offline() {
      net.offline = true;
      for (const s of net.sockets) s.inner.drop();
    },
    online() {
      net.offline = false;
    },
  };
}

async function signedUp(name: string) {
  const d = device();
  const user = await d.client.register({
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: "correct horse battery",
  });
  return { ...d, user };
}

type Person = Awaited<ReturnType<typeof signedUp>>;

/** Opens the room with its state; collects the changes it applied. */
function open(who: { client: EdgechatClient }, roomId: string, outbox: OutboxStorage | null = null) {
  const conn = pool.track(
    who.client.room(roomId, { pageSize: 100, minDelayMs: 20, maxDelayMs: 200, pingIntervalMs: 60_000, outbox }),
  );
  const changes: ChangeFrame[] = [];
  conn.on("change", (c) => changes.push(c));
  conn.connect();
  return { conn, changes };
}

/** The room's version as REST reports it once Postgres has every change. */
async function settledVersion(owner: Person, roomId: string): Promise<number> {
  await stubFor(roomId).drainOutbox();
  return (await owner.client.rooms.get(roomId)).version;
}

/** Tests run with SYSTEM_MESSAGES off; this room has them, as a deployment does by default (until evicted). */
function systemMessagesOn(roomId: string) {
  return runInDurableObject(stubFor(roomId), (instance: object) => {
    Object.assign(instance, { env: { ...env, SYSTEM_MESSAGES: "on" } });
  });
}

const loaded = (conn: RoomConnection, version: number) => {
  const s = conn.roomState;
  return s !== null && s.version === version && s.settings !== null && s.members !== null;
};

function message(state: RoomState | null, seq: number) {
  const m = state?.messages.get(seq);
  if (!m) throw new Error(`no message ${seq}`);
  return m;
}

describe("room state through the SDK", () => {
  it("a client that was away catches up on every kind of change and ends with the same state as those who stayed", async () => {
    const [ana, ben, cat, dan, eve] = (await Promise.all(["ana", "ben", "cat", "dan", "eve"].map(signedUp))) as [
      Person,
      Person,
      Person,
      Person,
      Person,
    ];
    const room = await ana.client.rooms.create({ name: "sync" });
    await systemMessagesOn(room.id);
    for (const p of [ben, cat, eve]) await ana.client.rooms.invite(room.id, p.user.id);
    await ana.client.messages.send(room.id, { clientMsgId: "s1", body: "one" });
    await ben.client.messages.send(room.id, { clientMsgId: "s2", body: "two" });
    await cat.client.messages.send(room.id, { clientMsgId: "s3", body: "three" });

    const a = open(ana, room.id);
    const b = open(ben, room.id);
    const c = open(cat, room.id);
    let version = await settledVersion(ana, room.id);
    await until(() => [a, b, c].every((x) => loaded(x.conn, version) && x.conn.state === "open"));
    const seqOf = (body: string) =>
      [...(a.conn.roomState?.messages.values() ?? [])].find((m) => m.body === body)?.seq as number;
    const [one, two, three] = [seqOf("one"), seqOf("two"), seqOf("three")];
    c.conn.react(one, "👍");
    b.conn.read(three);
    await until(() => a.conn.roomState?.readMarks?.get(ben.user.id) === three);
    await until(() => message(c.conn.roomState, one).reactions.length === 1);

    // Cat's network goes; the room moves on by more changes than it keeps itself (20 in tests), and its
    // object is evicted: the catch-up reads Postgres.
    cat.offline();
    await until(() => c.conn.state === "reconnecting");
    const changesBefore = c.changes.length;
    await ana.client.messages.edit(room.id, one, "one, edited");
    await ana.client.messages.send(room.id, { clientMsgId: "s4", body: "four", replyTo: two });
    const five = (await ben.client.messages.send(room.id, { clientMsgId: "s5", body: "five", replyTo: one })).message
      .seq;
    await ben.client.messages.delete(room.id, five);
    await ben.client.messages.delete(room.id, two);
    b.conn.react(one, "❤️");
    a.conn.react(one, "❤️");
    a.conn.react(one, "🎉");
    a.conn.react(one, "🎉", false);
    for (const on of [true, false, true, false]) b.conn.react(three, "👀", on);
    await ana.client.messages.pin(room.id, one);
    await ana.client.messages.pin(room.id, three);
    await ana.client.messages.unpin(room.id, three);
    await ana.client.rooms.invite(room.id, dan.user.id, "admin");
    await ana.client.rooms.removeMember(room.id, eve.user.id);
    await ana.client.rooms.update(room.id, { name: "sync, renamed" });
    await ana.client.rooms.update(room.id, { topic: "catching up", custom: { z: 1, a: [1, 2] } });
    await dan.client.messages.send(room.id, {
      clientMsgId: "s6",
      body: "hello from dan",
      custom: { kind: "greeting", n: 6 },
    });
    await evictDurableObject(stubFor(room.id));
    await systemMessagesOn(room.id);
    await dan.client.rooms.leave(room.id);
    await until(() => (a.conn.roomState?.members?.has(dan.user.id) ?? true) === false);
    const last = Math.max(...(a.conn.roomState?.messages.keys() ?? []));
    a.conn.read(last);
    b.conn.read(last);
    version = await settledVersion(ana, room.id);
    await until(() => a.conn.roomState?.version === version && b.conn.roomState?.version === version);
    expect(version - (c.conn.roomState?.version ?? 0)).toBeGreaterThan(20);

    cat.online();
    await until(() => c.conn.roomState?.version === version);
    // A fresh load from REST (a reload, or another device) sees the same.
    const fresh = open(ana, room.id);
    await until(() => loaded(fresh.conn, version) && loaded(a.conn, version) && loaded(b.conn, version));
    await until(() => loaded(c.conn, version));

    const want = a.conn.snapshot();
    expect(b.conn.snapshot()).toEqual(want);
    expect(c.conn.snapshot()).toEqual(want);
    expect(fresh.conn.snapshot()).toEqual(want);

    // What the state says, spelled out.
    const s = c.conn.roomState as RoomState;
    expect(message(s, one)).toMatchObject({ body: "one, edited", pinned: true, replyCount: 0, lastReplyAt: null });
    expect(message(s, one).editedAt).not.toBeNull();
    expect(message(s, one).reactions.map((r) => [r.emoji, reactionCount(r), r.users.has(cat.user.id)])).toEqual([
      ["👍", 1, true],
      ["❤️", 2, false],
    ]);
    expect(message(s, two)).toMatchObject({ body: null, replyCount: 1 });
    expect(message(s, two).deletedAt).not.toBeNull();
    expect(message(s, three).pinned).toBe(false);
    expect(message(s, five)).toMatchObject({ body: null, replyTo: one });
    const dans = [...s.messages.values()].find((m) => m.senderId === dan.user.id && m.kind === "regular");
    expect(dans?.custom).toEqual({ kind: "greeting", n: 6 });
    const system = messageList(s)
      .filter((m) => m.kind === "system")
      .map((m) => m.system?.event);
    expect(system).toEqual(["joined", "joined", "joined", "joined", "removed", "renamed", "topic", "left"]);
    expect(s.settings).toMatchObject({ name: "sync, renamed", topic: "catching up", custom: { z: 1, a: [1, 2] } });
    expect(Object.fromEntries(s.members ?? [])).toEqual({
      [ana.user.id]: "owner",
      [ben.user.id]: "member",
      [cat.user.id]: "member",
    });
    expect(s.readMarks?.get(ben.user.id)).toBe(last);
    expect(s.readMarks?.has(eve.user.id)).toBe(false);

    // Cat got every change once, in order, none ahead of order.
    const caught = c.changes.slice(changesBefore).map((x) => x.v);
    expect(caught.length).toBeGreaterThan(20);
    expect(caught).toEqual(Array.from({ length: caught.length }, (_, i) => (caught[0] as number) + i));
    expect(c.changes.map((x) => x.v)).toEqual([...new Set(c.changes.map((x) => x.v))]);
  });

  it("keeps what a blocked member writes hidden, the same live as after a reload", async () => {
    const [ana, ben, eve] = (await Promise.all(["ana", "ben", "eve"].map(signedUp))) as [Person, Person, Person];
    const room = await ana.client.rooms.create({ name: "blocks" });
    for (const p of [ben, eve]) await ana.client.rooms.invite(room.id, p.user.id);
    await ana.client.request("PUT", `/api/me/blocks/${eve.user.id}`);
    const a = open(ana, room.id);
    const b = open(ben, room.id);
    let version = await settledVersion(ana, room.id);
    await until(() => loaded(a.conn, version) && loaded(b.conn, version) && a.conn.state === "open");
    const hello = (await ben.client.messages.send(room.id, { clientMsgId: "b1", body: "hello" })).message.seq;
    const psst = (await eve.client.messages.send(room.id, { clientMsgId: "e1", body: "psst" })).message.seq;
    await eve.client.messages.react(room.id, hello, "👍");
    await ben.client.messages.react(room.id, psst, "🎉");
    await ben.client.messages.send(room.id, { clientMsgId: "b2", body: "what?", replyTo: psst });
    await eve.client.messages.edit(room.id, psst, "psst!");
    version = await settledVersion(ana, room.id);
    await until(() => a.conn.roomState?.version === version && b.conn.roomState?.version === version);

    const seen = a.conn.roomState as RoomState;
    expect(message(seen, psst)).toMatchObject({ hidden: true, body: null, reactions: [] });
    expect(message(seen, hello).reactions).toEqual([]);
    expect(message(b.conn.roomState, psst)).toMatchObject({ body: "psst!", replyCount: 1 });
    const reloaded = open(ana, room.id);
    await until(() => loaded(reloaded.conn, version));
    expect(reloaded.conn.snapshot()).toEqual(a.conn.snapshot());
  });

  // A blocked member's reply to a visible message: history pages count it in the parent's replyCount, the
  // live `hidden {v, seq}` stand-in does not say it is a reply, so the two disagree until the server
  // either leaves hidden replies out of replyCount or gives the stand-in `replyTo`.

  it("stores a throttled burst of 6 in the order sent, across a reconnect in the middle", async () => {
    const ana = await signedUp("ana");
    const room = await ana.client.rooms.create({ name: "burst" });
    const a = open(ana, room.id);
    await until(() => a.conn.state === "open");
    const throttled: unknown[] = [];
    a.conn.on("throttled", (t) => {
      throttled.push(t);
      // The network drops while a throttled send waits: it still goes first when the window opens.
      if (throttled.length === 1) ana.socket()?.inner.drop();
    });
    const bodies = ["quick 1", "quick 2", "quick 3", "quick 4", "quick 5", "quick 6"];
    const acks = await Promise.all(bodies.map((body) => a.conn.send(body)));
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(acks.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    await stubFor(room.id).drainOutbox();
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id)).orderBy(messages.seq);
    expect(rows.map((r) => r.body)).toEqual(bodies);
    await until(() => a.conn.roomState?.messages.size === 6);
    expect(messageList(a.conn.roomState as RoomState).map((m) => m.body)).toEqual(bodies);
  });

  it("keeps unacked sends through a reload (outbox storage) and the room stores each once", async () => {
    const ana = await signedUp("ana");
    const ben = await signedUp("ben");
    const room = await ana.client.rooms.create({ name: "reload" });
    await ana.client.rooms.invite(room.id, ben.user.id);
    const storage = memoryOutboxStorage();
    const b = open(ben, room.id);
    const first = open(ana, room.id, storage);
    await until(() => first.conn.state === "open" && b.conn.state === "open");

    // Typed offline, then the page is reloaded (still offline).
    ana.offline();
    const typed = first.conn.send("typed offline");
    typed.catch(() => undefined);
    // Sent, stored by the room, but the ack never came back before the reload.
    expect(first.conn.pendingSends.map((p) => p.body)).toEqual(["typed offline"]);
    first.conn.close();
    await expect(typed).rejects.toMatchObject({ code: "network" });

    const reloaded = device(ana.client.session as Session);
    reloaded.net.offline = true;
    const second = open(reloaded, room.id, storage);
    await until(() => second.conn.pendingSends.length === 1);
    expect(second.conn.pendingSends[0]?.body).toBe("typed offline");
    reloaded.online();
    await until(() => second.conn.pending === 0);
    await until(() => [...(b.conn.roomState?.messages.values() ?? [])].some((m) => m.body === "typed offline"));

    // Now one the room stored whose ack was lost: the reload resends it, the room acks the original seq.
    const sock = reloaded.socket() as Deafenable;
    sock.deaf = true;
    second.conn.send("ack lost").catch(() => undefined);
    await until(() => [...(b.conn.roomState?.messages.values() ?? [])].some((m) => m.body === "ack lost"));
    second.conn.close();
    const third = open(device(ana.client.session as Session), room.id, storage);
    await until(() => third.conn.state === "open" && third.conn.pending === 0);
    expect(await storage.load(`${ana.user.id}:${room.id}`)).toEqual([]);

    await stubFor(room.id).drainOutbox();
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id)).orderBy(messages.seq);
    expect(rows.filter((r) => r.kind !== "system").map((r) => r.body)).toEqual(["typed offline", "ack lost"]);
    const bodies = messageList(third.conn.roomState as RoomState).map((m) => m.body);
    expect(bodies.filter((x) => x === "ack lost" || x === "typed offline")).toEqual(["typed offline", "ack lost"]);
  });

  it("reloads and carries on when the room cannot continue from the client's version (resync_required)", async () => {
    const ana = await signedUp("ana");
    const room = await ana.client.rooms.create({ name: "resync" });
    await ana.client.messages.send(room.id, { clientMsgId: "r1", body: "before" });
    const a = open(ana, room.id);
    await until(() => a.conn.state === "open" && (a.conn.roomState?.messages.size ?? 0) === 1);
    const resyncs: unknown[] = [];
    a.conn.on("resync", (r) => resyncs.push(r));
    // A version the room never reached (its state was lost, say): the next connect is refused.
    const held = a.conn.roomState as RoomState;
    Object.assign(a.conn, { kept: { ...held, version: held.version + 1000 } });
    ana.socket()?.inner.drop();
    await until(() => resyncs.length === 1);
    await until(
      () => a.conn.state === "open" && a.conn.roomState !== null && a.conn.roomState.version === held.version,
    );
    await a.conn.send("after");
    await until(() => (a.conn.roomState?.messages.size ?? 0) === 2);
    expect(messageList(a.conn.roomState as RoomState).map((m) => m.body)).toEqual(["before", "after"]);
  });

  it("drops a change seen twice, and asks for what lies between on one ahead of order", async () => {
    const ana = await signedUp("ana");
    const room = await ana.client.rooms.create({ name: "scripted" });
    const version = await settledVersion(ana, room.id);
    // A scripted socket: the test plays the room.
    const sent: { type: string; since?: number }[] = [];
    let deliver: (frame: object) => void = () => undefined;
    let socketMade = false;
    const scripted = pool.track(
      new EdgechatClient({
        baseUrl: "http://edgechat.test",
        session: ana.client.session as Session,
        fetch: (input, init) => exports.default.fetch(input as string, init),
        webSocket: () => {
          const listeners = new Map<string, ((e: unknown) => void)[]>();
          const socket: SocketLike = {
            readyState: 1,
            send: (data) => sent.push(JSON.parse(data)),
            close: () => undefined,
            addEventListener: (type: string, l: (e: never) => void) =>
              listeners.set(type, [...(listeners.get(type) ?? []), l as (e: unknown) => void]),
          };
          socketMade = true;
          deliver = (frame) => {
            for (const l of listeners.get("message") ?? []) l({ data: JSON.stringify(frame) });
          };
          return socket;
        },
      }),
    );
    const conn = pool.track(scripted.room(room.id, { outbox: null, pingIntervalMs: 60_000 }));
    const applied: number[] = [];
    conn.on("change", (c) => applied.push(c.v));
    conn.connect();
    await until(() => socketMade && conn.roomState?.settings !== null && conn.roomState?.settings !== undefined);
    const topic = (v: number) => ({ type: "room", v, topic: `topic ${v}`, by: ana.user.id });
    deliver({ type: "welcome", roomId: room.id, lastSeq: 0, version: version + 3, protocol: 2, online: [], you: "x" });
    deliver(topic(version + 1));
    deliver(topic(version + 1));
    deliver(topic(version + 3));
    expect(applied).toEqual([version + 1]);
    expect(sent).toEqual([{ type: "sync", since: version + 1 }]);
    deliver(topic(version + 2));
    deliver(topic(version + 3));
    deliver({ type: "synced", fromVersion: version + 2, toVersion: version + 3, more: false });
    expect(applied).toEqual([version + 1, version + 2, version + 3]);
    expect(conn.roomState?.settings?.topic).toBe(`topic ${version + 3}`);
  });
});
