/** Rooms and members over REST: creation, the one direct room per pair, roles, and BOLA on every route. */
import { describe, expect, it } from "vitest";
import { drainOutbox } from "../helpers/drain";
import { createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function group(token: string, extra: Record<string, unknown> = {}) {
  const { status, json } = await api("POST", "/api/rooms", token, { name: "design", ...extra });
  expect(status).toBe(201);
  return json.room as { id: string };
}

describe("rooms", () => {
  it("creates a group room with the creator as owner and invited members", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await group(ana.token, { topic: "pixels", members: [bob.id] });
    const { json } = await api("GET", `/api/rooms/${room.id}`, bob.token);
    expect(json.room).toMatchObject({ name: "design", topic: "pixels", kind: "group", role: "member", memberCount: 2 });
    expect((await api("POST", "/api/rooms", ana.token, { name: "x", members: [crypto.randomUUID()] })).status).toBe(
      422,
    );
    expect((await api("POST", "/api/rooms", ana.token, { name: "x", createdBy: bob.id })).status).toBe(400);
  });

  it("returns the one direct room of a pair, also under concurrent requests from both sides", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const results = await Promise.all([
      ...Array.from({ length: 4 }, () => api("POST", "/api/rooms/direct", ana.token, { userId: bob.id })),
      ...Array.from({ length: 4 }, () => api("POST", "/api/rooms/direct", bob.token, { userId: ana.id })),
    ]);
    const ids = new Set(results.map((r) => r.json.room.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 201).length).toBe(1);
    expect((await api("POST", "/api/rooms/direct", ana.token, { userId: ana.id })).status).toBe(422);
    expect((await api("POST", "/api/rooms/direct", ana.token, { userId: crypto.randomUUID() })).status).toBe(404);
  });

  it("lists my rooms newest activity first, with last message and unread count, page by page", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const quiet = await group(ana.token, { name: "quiet", members: [bob.id] });
    const busy = await group(ana.token, { name: "busy", members: [bob.id] });
    await api("POST", `/api/rooms/${busy.id}/messages`, ana.token, { clientMsgId: "m1", body: "one" });
    await api("POST", `/api/rooms/${busy.id}/messages`, ana.token, { clientMsgId: "m2", body: "two" });
    await drainOutbox(busy.id);
    const first = await api("GET", "/api/rooms?limit=1", bob.token);
    expect(first.json.rooms).toHaveLength(1);
    expect(first.json.rooms[0]).toMatchObject({
      id: busy.id,
      lastSeq: 2,
      unread: 2,
      lastMessage: { seq: 2, body: "two" },
    });
    const second = await api("GET", `/api/rooms?limit=1&cursor=${first.json.nextCursor}`, bob.token);
    expect(second.json.rooms[0]).toMatchObject({ id: quiet.id, unread: 0, lastMessage: null });
    expect(second.json.nextCursor).toBeNull();
    expect((await api("GET", "/api/rooms?cursor=garbage", bob.token)).status).toBe(400);
  });

  it("lets admins rename, not members; joins public rooms only", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await group(ana.token, { members: [bob.id] });
    expect((await api("PATCH", `/api/rooms/${room.id}`, bob.token, { name: "mine" })).status).toBe(403);
    expect(
      (await api("PATCH", `/api/rooms/${room.id}`, ana.token, { name: "renamed", isPublic: true })).json.room,
    ).toMatchObject({ name: "renamed", isPublic: true });
    const cyd = await createUser("cyd");
    expect((await api("POST", `/api/rooms/${room.id}/join`, cyd.token)).status).toBe(201);
    const secret = await group(ana.token);
    expect((await api("POST", `/api/rooms/${secret.id}/join`, cyd.token)).status).toBe(404);
  });
});

describe("members and roles", () => {
  it("invites, lists and removes members with the checks users expect", async () => {
    const owner = await createUser("owner");
    const admin = await createUser("admin");
    const member = await createUser("member");
    const room = await group(owner.token);
    expect(
      (await api("POST", `/api/rooms/${room.id}/members`, owner.token, { userId: admin.id, role: "admin" })).status,
    ).toBe(201);
    // Admins invite members but cannot make admins; members cannot invite at all.
    expect(
      (await api("POST", `/api/rooms/${room.id}/members`, admin.token, { userId: member.id, role: "admin" })).status,
    ).toBe(403);
    expect((await api("POST", `/api/rooms/${room.id}/members`, admin.token, { userId: member.id })).status).toBe(201);
    expect((await api("POST", `/api/rooms/${room.id}/members`, admin.token, { userId: member.id })).status).toBe(409);
    const other = await createUser("other");
    expect((await api("POST", `/api/rooms/${room.id}/members`, member.token, { userId: other.id })).status).toBe(403);
    const { json } = await api("GET", `/api/rooms/${room.id}/members`, member.token);
    expect(json.members.map((m: { role: string }) => m.role)).toEqual(["owner", "admin", "member"]);
    // Admins cannot remove admins or owners; owners can remove admins.
    expect((await api("DELETE", `/api/rooms/${room.id}/members/${owner.id}`, admin.token)).status).toBe(403);
    expect((await api("DELETE", `/api/rooms/${room.id}/members/${admin.id}`, member.token)).status).toBe(403);
    expect((await api("DELETE", `/api/rooms/${room.id}/members/${admin.id}`, owner.token)).status).toBe(204);
  });

  it("closes a removed member's sockets with 4003 and locks them out", async () => {
    const owner = await createUser("owner");
    const bob = await createUser("bob");
    const room = await group(owner.token, { members: [bob.id] });
    const socket = await pool.connect(room.id, bob.token);
    await socket.next("welcome");
    expect((await api("DELETE", `/api/rooms/${room.id}/members/${bob.id}`, owner.token)).status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(4003);
    expect((await api("GET", `/api/rooms/${room.id}/messages`, bob.token)).status).toBe(404);
  });

  it("hands the room to an admin when the owner leaves; direct rooms cannot be left", async () => {
    const owner = await createUser("owner");
    const admin = await createUser("admin");
    const member = await createUser("member");
    const room = await group(owner.token, { members: [member.id] });
    await api("POST", `/api/rooms/${room.id}/members`, owner.token, { userId: admin.id, role: "admin" });
    expect((await api("POST", `/api/rooms/${room.id}/leave`, owner.token)).status).toBe(204);
    expect((await api("GET", `/api/rooms/${room.id}`, admin.token)).json.room.role).toBe("owner");
    expect((await api("GET", `/api/rooms/${room.id}`, owner.token)).status).toBe(404);
    const { json } = await api("POST", "/api/rooms/direct", admin.token, { userId: member.id });
    expect((await api("POST", `/api/rooms/${json.room.id}/leave`, admin.token)).status).toBe(409);
  });
});

describe("broken object level authorization", () => {
  it("answers 404 to a non-member on every room route, exactly as for a room that does not exist", async () => {
    const ana = await createUser("ana");
    const eve = await createUser("eve");
    const room = await group(ana.token);
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "secret", body: "secret" });
    const routes: [string, string, unknown?][] = [
      ["GET", "/api/rooms/ID"],
      ["PATCH", "/api/rooms/ID", { name: "pwned" }],
      ["POST", "/api/rooms/ID/join"],
      ["POST", "/api/rooms/ID/leave"],
      ["GET", "/api/rooms/ID/members"],
      ["POST", "/api/rooms/ID/members", { userId: eve.id }],
      ["DELETE", `/api/rooms/ID/members/${ana.id}`],
      ["GET", "/api/rooms/ID/messages"],
      ["POST", "/api/rooms/ID/messages", { clientMsgId: "x", body: "x" }],
      ["POST", "/api/rooms/ID/read", { seq: 1 }],
      ["PATCH", "/api/messages/ID/1", { body: "pwned" }],
      ["DELETE", "/api/messages/ID/1"],
      ["POST", "/api/rooms/ID/ws-ticket"],
    ];
    for (const [method, path, body] of routes) {
      const real = await api(method, path.replace("ID", room.id), eve.token, body);
      const missing = await api(method, path.replace("ID", crypto.randomUUID()), eve.token, body);
      expect(real.status, `${method} ${path}`).toBe(404);
      expect(real.json.error.code, `${method} ${path}`).toBe("not_found");
      expect(missing.status, `${method} ${path} (missing room)`).toBe(404);
    }
    expect((await api("GET", "/api/rooms", eve.token)).json.rooms).toEqual([]);
    // Nothing changed: the room still has its name and its one message.
    const { json } = await api("GET", `/api/rooms/${room.id}/messages`, ana.token);
    expect(json.messages.map((m: { body: string }) => m.body)).toEqual(["secret"]);
  });

  it("requires a token on every room route", async () => {
    expect((await api("GET", "/api/rooms")).status).toBe(401);
    expect((await api("POST", "/api/rooms", undefined, { name: "x" })).status).toBe(401);
    expect((await api("GET", `/api/rooms/${crypto.randomUUID()}/messages`)).status).toBe(401);
  });
});
