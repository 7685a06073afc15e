/**
 * Integration (real rooms, real Postgres): a socket upgrade in steady state makes no Postgres query; the
 * room vouches for its members (src/durable-objects/member-cache.ts). Proven by cutting Postgres for the
 * worker alone (its DATABASE_URL carries a marker the local Neon proxy refuses while cut): members the
 * room knows still connect. Removals and bans hold with Postgres and Redis in any state: the room stops
 * vouching before Postgres commits them, and an answer Postgres gave before a removal is never remembered
 * after it.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { roomMembers } from "../../src/db/schema";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { IDENTITY_HEADERS } from "../../src/protocol/identity";
import { app } from "../../src/worker/app";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { stubFor, type TestUser } from "../helpers/rooms";

type Pg = "up" | "cut";
type Redis = "up" | "down";

/** A Postgres outage seen only by the worker requests made with these bindings (not by the rooms). */
async function workerPostgresCut() {
  const marker = `conn${crypto.randomUUID().replaceAll("-", "")}`;
  const url = new URL(env.DATABASE_URL);
  url.password = marker;
  await fetch(`http://${env.NEON_LOCAL_PROXY}/__control/cut?match=${marker}`, { method: "POST" });
  return {
    databaseUrl: url.toString(),
    restore: () => fetch(`http://${env.NEON_LOCAL_PROXY}/__control/restore?match=${marker}`, { method: "POST" }),
  };
}

let cut: Awaited<ReturnType<typeof workerPostgresCut>> | null = null;

/** The upgrade as the worker answers it, with the worker's Postgres and Redis up or not. */
async function upgrade(roomId: string, token: string, o: { pg?: Pg; redis?: Redis; query?: string } = {}) {
  cut ??= await workerPostgresCut();
  const bindings: Env = {
    ...env,
    ...(o.pg === "cut" ? { DATABASE_URL: cut.databaseUrl } : {}),
    ...(o.redis === "down"
      ? { UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN }
      : {}),
  };
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://edgechat.test/api/rooms/${roomId}/ws${o.query ?? ""}`, {
      headers: { upgrade: "websocket", authorization: `Bearer ${token}` },
    }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "test done");
  }
  return res.status;
}

/** POST /api/rooms/:id/ws-ticket as the worker answers it, with the worker's Postgres up or cut. */
async function ticket(roomId: string, token: string, pg: Pg = "up") {
  cut ??= await workerPostgresCut();
  const bindings: Env = { ...env, ...(pg === "cut" ? { DATABASE_URL: cut.databaseUrl } : {}) };
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://edgechat.test/api/rooms/${roomId}/ws-ticket`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    }),
    bindings,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  await res.body?.cancel();
  return res.status;
}

const api = (method: string, path: string, token: string, body?: unknown) =>
  exports.default.fetch(`http://edgechat.test${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

/** A room made through the API, so the room recorded its members as they joined (its roster). */
async function apiRoom(owner: TestUser, members: TestUser[]): Promise<string> {
  const res = await api("POST", "/api/rooms", owner.token, { name: "connects", members: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { room: { id: string } }).room.id;
}

/** Warms the user's session state in Redis, as any earlier request of theirs does. */
async function warm(roomId: string, user: TestUser) {
  expect((await api("GET", `/api/rooms/${roomId}`, user.token)).status).toBe(200);
}

describe("connects without Postgres", () => {
  it("lets the room vouch for members it recorded: no Postgres query on the upgrade", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const roomId = await apiRoom(ana, [bob]);
    await warm(roomId, bob);
    expect(await upgrade(roomId, bob.token, { pg: "cut" })).toBe(101);
    expect(await upgrade(roomId, ana.token, { pg: "cut", query: "?since=0&batch=1" })).toBe(101);
  });

  it("mints socket tickets the same way: the room vouches, Postgres only for the unknown and the removed", async () => {
    const [ana, bob, eve] = [await createUser("ana"), await createUser("bob"), await createUser("eve")];
    const roomId = await apiRoom(ana, [bob]);
    await warm(roomId, bob);
    await warm(roomId, ana);
    expect(await ticket(roomId, bob.token, "cut")).toBe(200);
    expect(await ticket(roomId, eve.token)).toBe(404);
    expect(await ticket(roomId, eve.token, "cut")).not.toBe(200);
    expect((await api("DELETE", `/api/rooms/${roomId}/members/${bob.id}`, ana.token)).status).toBe(204);
    expect(await ticket(roomId, bob.token)).toBe(404);
    expect(await ticket(roomId, bob.token, "cut")).not.toBe(200);
  });

  it("asks Postgres once for a member the room has not seen, then remembers the answer", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const room = await createRoom(ana.id, [bob.id]); // straight into Postgres: the room never heard of them
    await warm(room.id, bob);
    expect(await upgrade(room.id, bob.token, { pg: "cut" })).not.toBe(101);
    expect(await upgrade(room.id, bob.token)).toBe(101);
    expect(await upgrade(room.id, bob.token, { pg: "cut" })).toBe(101);
  });

  it("refuses strangers and ids that are not rooms, as before", async () => {
    const [ana, eve] = [await createUser("ana"), await createUser("eve")];
    const roomId = await apiRoom(ana, []);
    expect(await upgrade(roomId, eve.token)).toBe(404);
    expect(await upgrade("not-a-room", eve.token)).toBe(404);
    expect(await upgrade(crypto.randomUUID(), eve.token)).toBe(404);
  });

  it("refuses a removed member at once, with Redis down and with Redis up", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const roomId = await apiRoom(ana, [bob]);
    await warm(roomId, bob);
    expect(await upgrade(roomId, bob.token)).toBe(101);
    expect((await api("DELETE", `/api/rooms/${roomId}/members/${bob.id}`, ana.token)).status).toBe(204);
    expect(await upgrade(roomId, bob.token, { redis: "down" })).toBe(404);
    expect(await upgrade(roomId, bob.token)).toBe(404);
  });

  it("refuses a member banned from the room, and one who left", async () => {
    const [ana, bob, cyd] = [await createUser("ana"), await createUser("bob"), await createUser("cyd")];
    const roomId = await apiRoom(ana, [bob, cyd]);
    for (const u of [bob, cyd]) expect(await upgrade(roomId, u.token)).toBe(101);
    expect((await api("PUT", `/api/rooms/${roomId}/bans/${bob.id}`, ana.token, {})).status).toBe(200);
    expect((await api("POST", `/api/rooms/${roomId}/leave`, cyd.token)).status).toBe(204);
    for (const u of [bob, cyd]) {
      expect(await upgrade(roomId, u.token, { redis: "down" })).toBe(404);
      expect(await upgrade(roomId, u.token)).toBe(404);
    }
  });

  it("keeps a removal whose room record never came: the room asks Postgres for that member from then on", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const roomId = await apiRoom(ana, [bob]);
    expect(await upgrade(roomId, bob.token)).toBe(101);
    // A removal that told the room first and then died after the Postgres write (no disconnect, no record).
    await stubFor(roomId).revokingMember(bob.id);
    await db()
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, bob.id)));
    expect(await upgrade(roomId, bob.token)).toBe(404);
    expect(await upgrade(roomId, bob.token, { redis: "down" })).toBe(404);
  });

  it("never remembers a Postgres answer read before a revocation (the epoch moved): the worker asks again", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const room = await createRoom(ana.id, [bob.id]);
    const stub = stubFor(room.id);
    const attempt = (headers: Record<string, string>) =>
      stub.fetch(
        new Request(`http://room/api/rooms/${room.id}/ws`, {
          headers: {
            upgrade: "websocket",
            [IDENTITY_HEADERS.roomId]: room.id,
            [IDENTITY_HEADERS.userId]: bob.id,
            [IDENTITY_HEADERS.tokenExpiresAt]: String(Math.floor(Date.now() / 1000) + 600),
            ...headers,
          },
        }),
      );
    const first = await attempt({});
    expect(first.status).toBe(409);
    const epoch = first.headers.get(IDENTITY_HEADERS.membershipEpoch) as string;
    // Bob is removed (the room is told first) while the worker is reading Postgres.
    await stub.revokingMember(bob.id);
    await stub.disconnectUser(bob.id, "removed");
    const late = await attempt({ [IDENTITY_HEADERS.role]: "member", [IDENTITY_HEADERS.membershipEpoch]: epoch });
    expect(late.status).toBe(409);
    expect(Number(late.headers.get(IDENTITY_HEADERS.membershipEpoch))).toBeGreaterThan(Number(epoch));
    // Nothing was remembered for him.
    expect((await attempt({})).status).toBe(409);
    await runInDurableObject(stub, async (_r: ChatRoom, state) => {
      expect(state.storage.kv.get(`member:role:${bob.id}`)).toBeUndefined();
    });
  });

  it("does not use up a ticket on an upgrade the room sends back to Postgres", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const room = await createRoom(ana.id, [bob.id]);
    const mint = await api("POST", `/api/rooms/${room.id}/ws-ticket`, bob.token);
    const { ticket } = (await mint.json()) as { ticket: string };
    const res = await exports.default.fetch(`http://edgechat.test/api/rooms/${room.id}/ws?ticket=${ticket}`, {
      headers: { upgrade: "websocket" },
    });
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close(1000, "done");
    const again = await exports.default.fetch(`http://edgechat.test/api/rooms/${room.id}/ws?ticket=${ticket}`, {
      headers: { upgrade: "websocket" },
    });
    expect(again.status).toBe(401);
  });
});

describe("after the tests", () => {
  it("restores the worker's Postgres", async () => {
    await cut?.restore();
  });
});
