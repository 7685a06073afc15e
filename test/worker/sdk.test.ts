/**
 * The client SDK against the real worker: accounts and typed errors, and RoomConnection delivering every
 * message exactly once and in order through server-side closes, dropped and silent networks, and sends
 * made while offline.
 */
import { evictDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { EdgechatClient, EdgechatError, type MessageView } from "../../src/client";
import { messages } from "../../src/db/schema";
import { isolatedPostgresFault } from "../helpers/faults";
import { db } from "../helpers/fixtures";
import { stubFor } from "../helpers/rooms";
import { type UpgradeSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

const socketsOf = new WeakMap<EdgechatClient, UpgradeSocket[]>();

function newClient(): EdgechatClient {
  const sockets: UpgradeSocket[] = [];
  const client = new EdgechatClient({
    baseUrl: "http://edgechat.test",
    fetch: (input, init) => exports.default.fetch(input as string, init),
    webSocket: (url) => {
      const s = pool.sdkSocket(url);
      sockets.push(s);
      return s;
    },
  });
  socketsOf.set(client, sockets);
  return pool.track(client);
}

async function signedUp(name: string) {
  const client = newClient();
  const user = await client.register({
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: "correct horse battery",
  });
  return { client, user };
}

/** Connects and collects delivered messages; waits for the first welcome. */
async function listen(client: EdgechatClient, roomId: string, pingMs = 60_000) {
  const conn = pool.track(
    client.room(roomId, { minDelayMs: 20, maxDelayMs: 200, pingIntervalMs: pingMs, pongTimeoutMs: 300 }),
  );
  const got: MessageView[] = [];
  const states: string[] = [];
  const reactions: string[] = [];
  conn.on("message", (m) => got.push(m));
  conn.on("state", (s) => states.push(s));
  conn.on("reaction", (r) => reactions.push(r.emoji));
  const welcomed = new Promise((resolve) => conn.on("welcome", resolve));
  conn.connect();
  await welcomed;
  return {
    conn,
    got,
    states,
    /**
     * Resolves once this connection has seen a reaction to `seq` that `client` makes now. The room sends
     * a socket its frames in order, so whatever it sent this connection before has arrived too: a check
     * that nothing more came, made after this, is final.
     */
    settled: async (seq: number) => {
      const mark = `:seen${crypto.randomUUID().slice(0, 8)}:`;
      await client.messages.react(roomId, seq, mark);
      await until(() => reactions.includes(mark));
    },
    socket: () =>
      socketsOf
        .get(client)
        ?.filter((s) => s.readyState === 1)
        .at(-1) as UpgradeSocket,
  };
}

const until = (check: () => boolean, timeout = 10_000) => vi.waitUntil(check, { timeout, interval: 20 });

describe("EdgechatClient", () => {
  it("registers, signs in, calls typed routes and reports errors with the server's code", async () => {
    const { client, user } = await signedUp("ana");
    expect((await client.me.get()).user.id).toBe(user.id);
    const room = await client.rooms.create({ name: "sdk" });
    expect(room).toMatchObject({ name: "sdk", role: "owner" });
    const sent = await client.messages.send(room.id, { clientMsgId: "c1", body: "hello" });
    expect(sent.message.seq).toBe(1);
    const err = await client.rooms.get(crypto.randomUUID()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgechatError);
    expect(err).toMatchObject({ status: 404, code: "not_found" });
    const bad = await client.messages.send(room.id, { clientMsgId: "c2", body: "" }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: "validation_failed" });
  });

  it("refreshes a rejected access token once and retries, and signs out when the refresh token is gone", async () => {
    const { client } = await signedUp("ben");
    const session = client.session;
    if (!session) throw new Error("no session");
    // Simulate a token the server no longer accepts.
    (client as unknown as { current: typeof session }).current = { ...session, accessToken: "x.y.z" };
    expect((await client.me.get()).user.displayName).toBe("ben");
    expect(client.session?.accessToken).not.toBe("x.y.z");
    await client.logout();
    expect(client.session).toBeNull();
    await expect(client.me.get()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });
});

describe("RoomConnection", () => {
  it("delivers every message exactly once, in order, through server closes, drops and a dead network", async () => {
    const { client: reader, user: readerUser } = await signedUp("reader");
    const senders = await Promise.all(Array.from({ length: 10 }, (_, i) => signedUp(`s${i}`)));
    const room = await reader.rooms.create({ name: "stream" });
    for (const s of senders) await reader.rooms.invite(room.id, s.user.id);
    const { got, socket, states, settled } = await listen(reader, room.id, 100);
    const reconnects = () => states.filter((s) => s === "reconnecting").length;

    let n = 0;
    const sendBatch = async (count: number) => {
      for (let i = 0; i < count; i++, n++) {
        const s = senders[Math.floor(n / 3)] as (typeof senders)[0];
        await s.client.messages.send(room.id, { clientMsgId: `m${n}`, body: `message ${n}` });
      }
    };
    await sendBatch(6);
    // The server closes the socket (session check): the SDK refreshes its token and catches up.
    await stubFor(room.id).disconnectUser(readerUser.id, "logged_out");
    await sendBatch(6);
    // The client's network drops while messages keep coming.
    socket().drop();
    await sendBatch(6);
    // The network goes silent with no close at all: a missed pong gives it away.
    await until(() => got.length >= 18);
    socket().blackhole();
    await sendBatch(6);
    await evictDurableObject(stubFor(room.id));
    await sendBatch(6);
    await until(() => got.length >= 30, 15_000);
    await settled(30);
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(got.map((m) => m.body)).toEqual(Array.from({ length: 30 }, (_, i) => `message ${i}`));
    // Server close, drop and silent network each cost one reconnect.
    expect(reconnects()).toBeGreaterThanOrEqual(3);
  });

  it("keeps sends made while offline and delivers each exactly once after reconnecting", async () => {
    const { client: ana } = await signedUp("ana");
    const { client: ben, user: benUser } = await signedUp("ben");
    const room = await ana.rooms.create({ name: "offline" });
    await ana.rooms.invite(room.id, benUser.id);
    const a = await listen(ana, room.id);
    const b = await listen(ben, room.id);

    a.socket().drop();
    expect(a.conn.state).toBe("reconnecting");
    const sends = [a.conn.send("first"), a.conn.send("second"), a.conn.send("third")];
    expect(a.conn.pending).toBe(3);
    const acks = await Promise.all(sends);
    expect(acks.map((x) => x.seq).sort()).toEqual([1, 2, 3]);
    expect(a.conn.pending).toBe(0);
    await until(() => b.got.length === 3);

    // An ack lost on the way back: the resend carries the same clientMsgId and gets the original seq.
    // (A fourth send inside the 3-per-5 s window is also throttled first; the SDK resends when allowed.)
    const throttled: unknown[] = [];
    a.conn.on("throttled", (t) => throttled.push(t));
    const socket = a.socket();
    const lost = a.conn.send("fourth", { clientMsgId: "lost-ack" });
    await until(() => b.got.length === 4);
    socket.drop();
    const again = await lost;
    expect(again).toMatchObject({ clientMsgId: "lost-ack", seq: 4 });
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    await b.settled(4);
    expect(b.got.map((m) => m.body)).toEqual(["first", "second", "third", "fourth"]);
    await stubFor(room.id).drainOutbox();
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id));
    expect(rows.map((r) => r.body).sort()).toEqual(["first", "fourth", "second", "third"]);
  });

  it("turns presence announced together into one presence event per user", async () => {
    const { client: ana } = await signedUp("ana");
    const others = await Promise.all(["ben", "cat", "dan"].map((n) => signedUp(n)));
    const room = await ana.rooms.create({ name: "storm" });
    for (const o of others) await ana.rooms.invite(room.id, o.user.id);
    const a = await listen(ana, room.id);
    const seen = new Map<string, string>();
    a.conn.on("presence", (p) => seen.set(p.userId, p.state));
    await Promise.all(others.map((o) => listen(o.client, room.id)));
    await until(() => seen.size === others.length);
    expect([...seen.values()]).toEqual(["joined", "joined", "joined"]);
  });

  it("stops for good when removed from the room, rejecting unacked sends", async () => {
    const { client: ana } = await signedUp("ana");
    const { client: ben, user: benUser } = await signedUp("ben");
    const room = await ana.rooms.create({ name: "removal" });
    await ana.rooms.invite(room.id, benUser.id);
    const b = await listen(ben, room.id);
    const errors: unknown[] = [];
    b.conn.on("error", (e) => errors.push(e));
    await ana.rooms.removeMember(room.id, benUser.id);
    await until(() => b.conn.state === "closed");
    expect(errors).toEqual([{ code: "closed", message: "removed from room" }]);
    await expect(b.conn.send("too late")).rejects.toBeInstanceOf(EdgechatError);
  });

  it("stores one sender's throttled burst in the order it was sent", async () => {
    const { client: ana } = await signedUp("ana");
    const room = await ana.rooms.create({ name: "burst" });
    const a = await listen(ana, room.id);
    const throttled: unknown[] = [];
    a.conn.on("throttled", (t) => throttled.push(t));
    // Twice the 3-per-5 s window: the later half is throttled and must not overtake each other.
    const bodies = ["quick 1", "quick 2", "quick 3", "quick 4", "quick 5", "quick 6"];
    const acks = await Promise.all(bodies.map((b) => a.conn.send(b)));
    expect(acks.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    await stubFor(room.id).drainOutbox();
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id)).orderBy(messages.seq);
    expect(rows.map((r) => r.body)).toEqual(bodies);
  });

  it("asks again when the room could not serve a catch-up (Postgres away), then delivers everything once", async () => {
    const { client: ana } = await signedUp("ana");
    const senders = await Promise.all(Array.from({ length: 10 }, (_, i) => signedUp(`r${i}`)));
    const room = await ana.rooms.create({ name: "resume-retry" });
    for (const s of senders) await ana.rooms.invite(room.id, s.user.id);
    // 30 messages while ana is away: more than the test log (20 changes), so a catch-up from 0 needs Postgres.
    for (let i = 0; i < 30; i++) {
      const s = senders[Math.floor(i / 3)] as (typeof senders)[0];
      await s.client.messages.send(room.id, { clientMsgId: `r${i}`, body: `resume ${i}` });
    }
    const stub = stubFor(room.id);
    await stub.drainOutbox();
    const fault = await isolatedPostgresFault(stub);
    await fault.cut();
    const conn = pool.track(ana.room(room.id, { afterSeq: 0, minDelayMs: 20, maxDelayMs: 200 }));
    const got: number[] = [];
    const errors: { code: string }[] = [];
    conn.on("message", (m) => got.push(m.seq));
    conn.on("error", (e) => errors.push(e));
    conn.connect();
    try {
      await until(() => errors.some((e) => e.code === "unavailable"), 10_000);
    } finally {
      await fault.restore();
    }
    await until(() => got.length === 30, 10_000);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});
