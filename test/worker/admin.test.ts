/** The admin API: hidden from everyone else, live room figures, dead letters, bans, room deletion. */
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters } from "../../src/db/notification-schema";
import { users } from "../../src/db/schema";
import { createRoom, createUser, db, sessionToken } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function admin() {
  const u = await createUser("admin");
  await db().update(users).set({ isAdmin: true }).where(eq(users.id, u.id));
  return u;
}

const ADMIN_CALLS: [string, (ids: { room: string; user: string }) => string, unknown?][] = [
  ["GET", () => "/api/admin/openapi.json"],
  ["GET", () => "/api/admin/stats"],
  ["GET", ({ room }) => `/api/admin/rooms/${room}`],
  ["DELETE", ({ room }) => `/api/admin/rooms/${room}`],
  ["GET", () => "/api/admin/users?email=someone@example.test"],
  ["GET", ({ user }) => `/api/admin/users/${user}`],
  ["POST", ({ user }) => `/api/admin/users/${user}/ban`, {}],
  ["DELETE", ({ user }) => `/api/admin/users/${user}/ban`],
  ["GET", () => "/api/admin/dead-letters"],
];

describe("admin routes", () => {
  it("look exactly like missing routes to non-admins, with or without a token, and change nothing", async () => {
    const member = await createUser("member");
    const room = await createRoom(member.id);
    const victim = await createUser("victim");
    const missing = await api("GET", "/api/no-such-route", member.token);
    const bannedAdmin = await admin();
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, bannedAdmin.id));
    for (const [method, path, body] of ADMIN_CALLS) {
      const url = path({ room: room.id, user: victim.id });
      for (const token of [member.token, undefined, "not-a-jwt", bannedAdmin.token]) {
        const res = await api(method, url, token, body);
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.json.error.code).toBe("not_found");
        expect(res.json.error.message).toBe(missing.json.error.message);
        expect(res.res.headers.get("www-authenticate")).toBeNull();
      }
    }
    expect((await api("GET", `/api/rooms/${room.id}`, member.token)).status).toBe(200);
    const [v] = await db().select().from(users).where(eq(users.id, victim.id));
    expect(v?.bannedAt).toBeNull();
  });

  it("are open to users listed in ADMIN_EMAILS, whatever the case", async () => {
    const id = crypto.randomUUID();
    // The address is fixed by the test configuration, and the test database outlives a run.
    await db().delete(users).where(sql`lower(${users.email}) = 'second-admin@example.test'`);
    await db().insert(users).values({ id, email: "second-admin@example.TEST", displayName: "ops", passwordHash: "x" });
    const res = await api("GET", "/api/admin/stats", (await sessionToken(id)).token);
    expect(res.status).toBe(200);
  });
});

describe("GET /api/admin/stats and /rooms/:id", () => {
  it("reports deployment totals and live figures gathered from the room objects", async () => {
    const boss = await admin();
    const { room, users: members } = await roomWith(2);
    const [a, b] = members as [(typeof members)[0], (typeof members)[0]];
    const sa = await pool.join(room.id, a.token);
    await pool.join(room.id, b.token);
    for (let i = 1; i <= 3; i++) await sendAndAck(sa, `s${i}`);
    // A fourth inside the throttle window is refused and counted.
    sa.send({ type: "send", clientMsgId: "s4", body: "too fast" });
    await sa.next("throttled");
    await stubFor(room.id).drainOutbox();

    const stats = await api("GET", "/api/admin/stats", boss.token);
    expect(stats.status).toBe(200);
    expect(stats.json.users).toBeGreaterThanOrEqual(3);
    expect(stats.json.rooms).toBeGreaterThanOrEqual(1);
    expect(stats.json.messagesPerHour.at(-1).messages).toBeGreaterThanOrEqual(3);
    expect(stats.json.live.sockets).toBeGreaterThanOrEqual(2);
    expect(stats.json.live.unreachable).toBe(0);

    const inspect = await api("GET", `/api/admin/rooms/${room.id}`, boss.token);
    expect(inspect.status).toBe(200);
    expect(inspect.json).toMatchObject({
      room: { id: room.id, members: 2 },
      postgresLastSeq: 3,
      live: {
        sockets: 2,
        lastSeq: 3,
        outbox: { depth: 0, oldestAt: null, oldestAgeMs: null, deadLetters: 0 },
        buffer: { min: 1, max: 3, count: 3 },
        throttleHits: 1,
      },
    });
    expect(inspect.json.live.online.sort()).toEqual([a.id, b.id].sort());
    expect((await api("GET", `/api/admin/rooms/${crypto.randomUUID()}`, boss.token)).status).toBe(404);
    expect((await api("GET", "/api/admin/rooms/not-a-uuid", boss.token)).status).toBe(404);
  });
});

describe("DELETE /api/admin/rooms/:id", () => {
  it("closes the room's sockets (4004), removes it everywhere, and leaves nothing to write back", async () => {
    const boss = await admin();
    const { room, users: members } = await roomWith(2);
    const [a] = members as [(typeof members)[0]];
    const socket = await pool.join(room.id, a.token);
    await sendAndAck(socket, "before-delete");
    expect((await api("DELETE", `/api/admin/rooms/${room.id}`, boss.token)).status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(4004);
    expect((await api("GET", `/api/rooms/${room.id}`, a.token)).status).toBe(404);
    expect((await api("GET", `/api/rooms/${room.id}/messages`, a.token)).status).toBe(404);
    expect((await api("DELETE", `/api/admin/rooms/${room.id}`, boss.token)).status).toBe(404);
  });
});

describe("users and bans", () => {
  it("finds users by email or id", async () => {
    const boss = await admin();
    const u = await createUser("findme");
    const byEmail = await api("GET", `/api/admin/users?email=${encodeURIComponent(u.email.toUpperCase())}`, boss.token);
    expect(byEmail.json.user).toMatchObject({ id: u.id, admin: false, bannedAt: null });
    expect((await api("GET", `/api/admin/users/${u.id}`, boss.token)).json.user.email).toBe(u.email);
    expect((await api("GET", "/api/admin/users?email=nobody@example.test", boss.token)).status).toBe(404);
    expect((await api("GET", "/api/admin/users?email=not-an-email", boss.token)).status).toBe(400);
  });

  it("a ban closes sockets (4003), refuses tokens, refresh and login; unbanning restores login", async () => {
    const boss = await admin();
    const email = `banned-${crypto.randomUUID()}@example.test`;
    const reg = await api("POST", "/api/auth/register", undefined, {
      email,
      displayName: "Troll",
      password: "correct horse battery",
    });
    expect(reg.status).toBe(201);
    const troll = reg.json.user as { id: string };
    const room = await createRoom(boss.id, [troll.id]);
    const socket = await pool.join(room.id, reg.json.accessToken);

    const ban = await api("POST", `/api/admin/users/${troll.id}/ban`, boss.token, { reason: "spam" });
    expect(ban.status).toBe(200);
    expect(ban.json.user).toMatchObject({ id: troll.id, banReason: "spam" });
    expect((await socket.waitClosed()).code).toBe(4003);
    expect((await api("GET", "/api/auth/me", reg.json.accessToken)).status).toBe(401);
    expect((await api("POST", `/api/rooms/${room.id}/ws-ticket`, reg.json.accessToken)).status).toBe(401);
    expect((await api("POST", "/api/auth/refresh", undefined, { refreshToken: reg.json.refreshToken })).status).toBe(
      401,
    );
    const login = await api("POST", "/api/auth/login", undefined, { email, password: "correct horse battery" });
    expect(login.status).toBe(403);
    expect(login.json.error.code).toBe("forbidden");
    // A wrong password still gets the ordinary 401, so the ban is no oracle for the account's existence.
    expect((await api("POST", "/api/auth/login", undefined, { email, password: "wrong password!!" })).status).toBe(401);
    expect((await api("POST", `/api/admin/users/${boss.id}/ban`, boss.token, {})).status).toBe(409);

    expect((await api("DELETE", `/api/admin/users/${troll.id}/ban`, boss.token)).json.user.bannedAt).toBeNull();
    const back = await api("POST", "/api/auth/login", undefined, { email, password: "correct horse battery" });
    expect(back.status).toBe(200);
    expect((await api("GET", "/api/auth/me", back.json.accessToken)).status).toBe(200);
  });
});

describe("GET /api/admin/dead-letters", () => {
  it("pages newest first and counts jobs still retrying", async () => {
    const boss = await admin();
    const marker = crypto.randomUUID();
    for (let i = 0; i < 3; i++) {
      await db()
        .insert(deadLetters)
        .values({
          messageId: `${marker}-${i}`,
          queue: "edgechat-notifications",
          body: { i },
          reason: `r${i}`,
          attempts: 9,
        });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api("GET", `/api/admin/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ""}`, boss.token);
      expect(res.status).toBe(200);
      expect(typeof res.json.retrying).toBe("number");
      seen.push(...res.json.deadLetters.map((d: { messageId: string }) => d.messageId));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(seen.filter((id) => id.startsWith(marker))).toEqual([`${marker}-2`, `${marker}-1`, `${marker}-0`]);
  });
});
