/**
 * Guarantee 9: bans, logouts and removals are enforced from Postgres when Redis is down (and when Redis
 * comes back without having heard of them); Redis may only make them faster.
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { roomMembers, users } from "../../src/db/schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { callWorker, type Redis } from "../helpers/worker-call";

type User = Awaited<ReturnType<typeof createUser>>;

/** Every way a member reaches a room: REST reads and writes, ticket minting, the socket upgrade. */
function roomCalls(redis: Redis, roomId: string, user: { token: string }) {
  return {
    "GET room": () => callWorker(redis, "GET", `/api/rooms/${roomId}`, { token: user.token }),
    "GET messages": () => callWorker(redis, "GET", `/api/rooms/${roomId}/messages`, { token: user.token }),
    "GET members": () => callWorker(redis, "GET", `/api/rooms/${roomId}/members`, { token: user.token }),
    "POST message": () =>
      callWorker(redis, "POST", `/api/rooms/${roomId}/messages`, {
        token: user.token,
        body: { clientMsgId: crypto.randomUUID(), body: "should not land" },
      }),
    "POST ws-ticket": () => callWorker(redis, "POST", `/api/rooms/${roomId}/ws-ticket`, { token: user.token }),
    upgrade: () =>
      callWorker(redis, "GET", `/api/rooms/${roomId}/ws`, { token: user.token, headers: { upgrade: "websocket" } }),
  };
}

async function expectRefused(redis: Redis, roomId: string, user: User, statuses: number[]) {
  for (const [name, call] of Object.entries(roomCalls(redis, roomId, user))) {
    const res = await call();
    expect(statuses, `${name} with Redis ${redis}: ${res.status}`).toContain(res.status);
  }
}

async function memberOfRoom() {
  const owner = await createUser("owner");
  const member = await createUser("member");
  const room = await createRoom(owner.id, [member.id]);
  // The member used the room before, so any cached state about their session is warm.
  expect((await callWorker("up", "GET", `/api/rooms/${room.id}`, { token: member.token })).status).toBe(200);
  return { owner, member, room };
}

describe("with Redis down", () => {
  it("works for a member in good standing (the checks fall back, they do not refuse everyone)", async () => {
    const { member, room } = await memberOfRoom();
    expect((await callWorker("down", "GET", `/api/rooms/${room.id}`, { token: member.token })).status).toBe(200);
    const upgrade = await callWorker("down", "GET", `/api/rooms/${room.id}/ws`, {
      token: member.token,
      headers: { upgrade: "websocket" },
    });
    expect(upgrade.status).toBe(101);
  });

  it("refuses a banned user on REST room routes and the socket upgrade", async () => {
    const { member, room } = await memberOfRoom();
    // A ban made while Redis is down: Postgres has it, the marker never reached Redis.
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, member.id));
    await expectRefused("down", room.id, member, [401]);
    // Redis back, still without the marker and with the session's state cached from before the ban.
    await expectRefused("up", room.id, member, [401, 404]);
  });

  it("refuses a logged-out token", async () => {
    const owner = await createUser("owner");
    const email = `safety-${crypto.randomUUID()}@example.test`;
    const reg = await callWorker("up", "POST", "/api/auth/register", {
      body: { email, displayName: "Ana", password: "correct horse battery" },
    });
    const room = await createRoom(owner.id, [reg.json.user.id]);
    const user = { ...reg.json.user, token: reg.json.accessToken } as User;
    expect((await callWorker("up", "GET", `/api/rooms/${room.id}`, { token: user.token })).status).toBe(200);
    const out = await callWorker("down", "POST", "/api/auth/logout", { body: { refreshToken: reg.json.refreshToken } });
    expect(out.status).toBe(204);
    await expectRefused("down", room.id, user, [401]);
  });

  it("refuses a removed member", async () => {
    const { member, room } = await memberOfRoom();
    await db()
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, member.id)));
    await expectRefused("down", room.id, member, [404]);
  });
});
