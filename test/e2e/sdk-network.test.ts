/**
 * The SDK in Node over real WebSockets to `wrangler dev`, through a proxy that drops and silences the
 * network: every message arrives exactly once and in order, and sends made while offline go out once.
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import WebSocket from "ws";
import { EdgechatClient, type MessageView } from "../../src/client";
import { type FaultyProxy, startProxy } from "./tcp-proxy";

const base = inject("e2eBaseUrl");
let proxy: FaultyProxy;
const clients: EdgechatClient[] = [];

beforeAll(async () => {
  proxy = await startProxy(inject("e2ePort"));
});
afterAll(async () => {
  for (const c of clients) c.close();
  await proxy.close();
});

async function signedUp(name: string, via = base) {
  const client = new EdgechatClient({ baseUrl: via });
  clients.push(client);
  const user = await client.register({
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: "correct horse battery",
  });
  return { client, user };
}

const until = (check: () => boolean, timeout = 20_000) => vi.waitUntil(check, { timeout, interval: 25 });

describe("RoomConnection over a failing network", () => {
  it("delivers every message exactly once and in order through resets and silence", async () => {
    const reader = await signedUp("reader", `http://127.0.0.1:${proxy.port}`);
    const senders = await Promise.all(Array.from({ length: 8 }, (_, i) => signedUp(`s${i}`)));
    const room = await senders[0]?.client.rooms.create({ name: "e2e" });
    if (!room) throw new Error("no room");
    for (const s of [reader, ...senders.slice(1)]) await senders[0]?.client.rooms.invite(room.id, s.user.id);

    const conn = reader.client.room(room.id, {
      minDelayMs: 50,
      maxDelayMs: 500,
      pingIntervalMs: 200,
      pongTimeoutMs: 600,
    });
    const got: MessageView[] = [];
    const states: string[] = [];
    conn.on("message", (m) => got.push(m));
    conn.on("state", (s) => states.push(s));
    conn.connect();
    await until(() => conn.state === "open");

    let n = 0;
    const sendSome = async (count: number) => {
      for (let i = 0; i < count; i++, n++) {
        const s = senders[Math.floor(n / 3)] as (typeof senders)[0];
        await s.client.messages.send(room.id, { clientMsgId: `m${n}`, body: `message ${n}` });
      }
    };
    await sendSome(6);
    await until(() => got.length === 6);
    proxy.cut();
    await sendSome(6);
    await until(() => got.length === 12);
    proxy.blackhole();
    await sendSome(6);
    await until(() => states.filter((s) => s === "reconnecting").length >= 2);
    proxy.restore();
    await sendSome(6);
    await until(() => got.length >= 24);
    await new Promise((r) => setTimeout(r, 500));
    // The invites' "joined" system messages come first (SYSTEM_MESSAGES is on under npm run dev).
    const first = got[0]?.seq ?? 0;
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 24 }, (_, i) => first + i));
    expect(got.map((m) => m.body)).toEqual(Array.from({ length: 24 }, (_, i) => `message ${i}`));
    conn.close();
  });

  it("sends made while the network is down go out once when it is back", async () => {
    const ana = await signedUp("ana", `http://127.0.0.1:${proxy.port}`);
    const ben = await signedUp("ben");
    const room = await ben.client.rooms.create({ name: "offline" });
    await ben.client.rooms.invite(room.id, ana.user.id);
    const conn = ana.client.room(room.id, { minDelayMs: 50, maxDelayMs: 500, pingIntervalMs: 200, pongTimeoutMs: 600 });
    conn.connect();
    await until(() => conn.state === "open");

    proxy.blackhole();
    const sends = [conn.send("one"), conn.send("two"), conn.send("three")];
    await until(() => conn.state === "reconnecting");
    expect(conn.pending).toBe(3);
    proxy.restore();
    const acks = await Promise.all(sends);
    const seqs = acks.map((a) => a.seq).sort((a, b) => a - b);
    expect(seqs).toEqual([seqs[0], (seqs[0] as number) + 1, (seqs[0] as number) + 2]);
    // History pages are Postgres at the version they name; the room writes through just after the ack.
    const regular = async () =>
      (await ben.client.messages.history(room.id)).messages.filter((m) => (m.kind ?? "regular") === "regular");
    await vi.waitUntil(async () => (await regular()).length >= 3, { timeout: 10_000, interval: 50 });
    expect((await regular()).map((m) => m.body).sort()).toEqual(["one", "three", "two"]);
    conn.close();
  });
});

describe("on Node without a global WebSocket", () => {
  it("runs on the ws package (what Node 20 users pass)", async () => {
    const client = new EdgechatClient({
      baseUrl: base,
      webSocket: (url) => new WebSocket(url) as unknown as import("../../src/client").SocketLike,
    });
    clients.push(client);
    await client.register({
      email: `ws-${crypto.randomUUID()}@example.test`,
      displayName: "ws",
      password: "correct horse battery",
    });
    const room = await client.rooms.create({ name: "ws" });
    const conn = client.room(room.id).connect();
    const got: MessageView[] = [];
    conn.on("message", (m) => got.push(m));
    await until(() => conn.state === "open");
    const { seq } = await conn.send("over ws");
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ seq, body: "over ws" });
    conn.close();
  });
});
