/** Tickets for browsers, token expiry on long-lived sockets, and members who are removed or log out. */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { createRoom, createUser, sessionToken } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { upgrade, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function ticketFor(roomId: string, token: string) {
  return exports.default.fetch(`http://edgechat.test/api/rooms/${roomId}/ws-ticket`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
}

async function openWithTicket(roomId: string, ticket: string, origin = "http://localhost:8787") {
  return exports.default.fetch(`http://edgechat.test/api/rooms/${roomId}/ws?ticket=${encodeURIComponent(ticket)}`, {
    headers: { Upgrade: "websocket", Origin: origin },
  });
}

describe("tickets", () => {
  it("opens a socket once with a ticket, then refuses the same ticket", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const res = await ticketFor(room.id, ana.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { ticket, expiresIn } = (await res.json()) as { ticket: string; expiresIn: number };
    expect(expiresIn).toBe(30);
    const first = await openWithTicket(room.id, ticket);
    expect(first.status).toBe(101);
    const socket = pool.adopt(first.webSocket as WebSocket);
    expect((await socket.next("welcome")).you).toBe(ana.id);
    socket.close();
    const again = await openWithTicket(room.id, ticket);
    expect(again.status).toBe(401);
    expect(again.webSocket).toBeNull();
  });

  it("does not mint tickets for non-members, and a ticket only opens its own room", async () => {
    const ana = await createUser("ana");
    const eve = await createUser("eve");
    const room = await createRoom(ana.id);
    const other = await createRoom(ana.id);
    expect((await ticketFor(room.id, eve.token)).status).toBe(404);
    const { ticket } = (await (await ticketFor(room.id, ana.token)).json()) as { ticket: string };
    expect((await openWithTicket(other.id, ticket)).status).toBe(401);
    // An access token is not a ticket, and a ticket is not an access token.
    expect((await openWithTicket(room.id, ana.token)).status).toBe(401);
    expect((await upgrade(room.id, { Authorization: `Bearer ${ticket}` })).status).toBe(401);
  });
});

describe("token expiry on a live socket", () => {
  it("warns with auth.expiring, extends with auth.refresh, and closes 4001 when not refreshed", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const now = Math.floor(Date.now() / 1000);
    const ttl = Number(env.ACCESS_TOKEN_TTL_SECONDS);
    // Expires in 30 s: inside the 60 s warning window from the start.
    const shortLived = (await sessionToken(ana.id, now - ttl + 30)).token;
    const socket = await pool.connect(room.id, shortLived);
    await socket.next("welcome");
    const stub = stubFor(room.id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await socket.next("auth.expiring")).toEqual({ type: "auth.expiring", expiresAt: now + 30 });

    socket.send({ type: "auth.refresh", token: "garbage" });
    expect(await socket.next("error")).toMatchObject({ code: "unauthorized", ref: "auth.refresh" });
    const bob = await createUser("bob");
    socket.send({ type: "auth.refresh", token: bob.token });
    expect(await socket.next("error")).toMatchObject({ code: "unauthorized" });

    const fresh = (await sessionToken(ana.id)).token;
    socket.send({ type: "auth.refresh", token: fresh });
    const refreshed = await socket.next("auth.refreshed");
    expect(refreshed.expiresAt).toBeGreaterThan(now + 800);
    expect(socket.closed).toBeNull();
  });

  it("closes with 4001 once the token has expired", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const now = Math.floor(Date.now() / 1000);
    const token = (await sessionToken(ana.id, now - Number(env.ACCESS_TOKEN_TTL_SECONDS) + 30)).token;
    const socket = await pool.join(room.id, token);
    // The room runs in this isolate, so a faked Date is its clock too: the alarm sees the token 1 s past
    // its expiry without the test waiting for it. Only Date is faked; the sockets' timers stay real.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime((now + 31) * 1000);
      await runDurableObjectAlarm(stubFor(room.id));
    } finally {
      vi.useRealTimers();
    }
    expect((await socket.waitClosed()).code).toBe(4001);
  });
});

describe("heartbeat sweep", () => {
  it("closes sockets that stopped pinging, and tells the room they left", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    await a.next("presence");
    const stub = stubFor(room.id);
    // Both sockets last spoke three minutes ago, past the 120 s heartbeat timeout...
    const longAgo = Date.now() - 180_000;
    await runInDurableObject(stub, (instance: ChatRoom, state) => {
      for (const ws of state.getWebSockets())
        instance.sockets.update(ws, { connectedAt: longAgo, lastFrameAt: longAgo });
    });
    // ...but a pings now: answered by the runtime without waking the room, it still counts as a heartbeat.
    a.send('{"type":"ping"}');
    await a.next("pong");
    await runDurableObjectAlarm(stub);
    expect((await b.waitClosed()).code).toBe(1001);
    expect(a.closed).toBeNull();
    expect(await a.next("presence")).toMatchObject({ state: "left", userId: (users[1] as { id: string }).id });
  });
});

describe("alarm scheduling", () => {
  it("counts runtime-answered pings as life, so a quiet but healthy socket does not keep the room awake", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    const stub = stubFor(room.id);
    const longAgo = Date.now() - 180_000;
    await runInDurableObject(stub, (instance: ChatRoom, state) => {
      for (const ws of state.getWebSockets()) {
        instance.sockets.update(ws, {
          connectedAt: longAgo,
          lastFrameAt: longAgo,
        });
      }
    });
    a.send('{"type":"ping"}');
    await a.next("pong");
    await runDurableObjectAlarm(stub);
    expect(a.closed).toBeNull();
    const next = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    // The next wake-up is the heartbeat deadline (about 2 minutes out), or the token's warning: never "now".
    expect(next).not.toBeNull();
    expect((next as number) - Date.now()).toBeGreaterThan(60_000);
  });
});

describe("removed members and logged-out users", () => {
  it("closes a removed member's sockets with 4003 and tells the room they left", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    const bobId = (users[1] as { id: string }).id;
    await a.next("presence");
    expect(await stubFor(room.id).disconnectUser(bobId, "removed")).toBe(1);
    expect((await b.waitClosed()).code).toBe(4003);
    expect(await a.next("presence")).toEqual({ type: "presence", userId: bobId, state: "left" });
  });

  it("closes a logged-out user's sockets with 4001", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    await stubFor(room.id).disconnectUser(users[0].id, "logged_out");
    expect((await a.waitClosed()).code).toBe(4001);
  });

  it("applies a role change to open sockets at once", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    const seq = await sendAndAck(a, "owner-msg");
    const bobId = (users[1] as { id: string }).id;
    b.send({ type: "delete", seq });
    expect(await b.next("error")).toMatchObject({ code: "forbidden" });
    await stubFor(room.id).memberChanged(bobId, "admin");
    b.send({ type: "delete", seq });
    expect(await a.next("deleted")).toMatchObject({ seq });
  });
});
