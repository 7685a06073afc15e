/**
 * Mass assignment (OWASP API3): fields a client must not set (`isAdmin`, `role`, `senderId`, `seq`,
 * `createdBy`, `userId`, secrets) are refused with 400 or ignored, and never land in the database.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { notificationSettings, pushSubscriptions } from "../../src/db/notification-schema";
import { messages, roomMembers, rooms, users } from "../../src/db/schema";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { browserKeys } from "../helpers/push-keys";

/** Refused (400) or accepted; either way the caller checks the database afterwards. */
const refusedOrIgnored = (status: number) => expect([200, 201, 400]).toContain(status);

describe("mass assignment", () => {
  it("register and profile updates cannot make an admin, pick an id or change the email", async () => {
    const id = crypto.randomUUID();
    const email = `mass-${crypto.randomUUID()}@example.test`;
    const reg = await api("POST", "/api/auth/register", undefined, {
      email,
      displayName: "Mass",
      password: "correct horse battery staple",
      isAdmin: true,
      role: "admin",
      id,
    });
    refusedOrIgnored(reg.status);
    expect(await db().select().from(users).where(eq(users.id, id))).toEqual([]);
    const me = await createUser("me");
    const patch = await api("PATCH", "/api/auth/me", me.token, {
      displayName: "Me",
      isAdmin: true,
      email: "boss@example.test",
      bannedAt: null,
    });
    refusedOrIgnored(patch.status);
    const [row] = await db().select().from(users).where(eq(users.id, me.id));
    expect(row).toMatchObject({ isAdmin: false, email: me.email });
    expect((await api("GET", "/api/admin/stats", me.token)).status).toBe(404);
  });

  it("a message cannot choose its sender, seq, time or room", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const room = await createRoom(ana.id, [ben.id]);
    const other = await createRoom(ben.id);
    const clientMsgId = crypto.randomUUID();
    const res = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId,
      body: "hi",
      senderId: ben.id,
      seq: 999,
      createdAt: "2000-01-01T00:00:00Z",
      roomId: other.id,
    });
    refusedOrIgnored(res.status);
    await drainOutbox(room.id);
    const rows = await db().select().from(messages).where(eq(messages.clientMsgId, clientMsgId));
    for (const m of rows) {
      expect(m).toMatchObject({ senderId: ana.id, roomId: room.id });
      expect(m.seq).not.toBe(999);
      expect(m.createdAt.getUTCFullYear()).toBeGreaterThan(2000);
    }
  });

  it("rooms and members cannot be given another creator, kind or the owner role", async () => {
    const ana = await createUser("ana");
    const ben = await createUser("ben");
    const eve = await createUser("eve");
    const created = await api("POST", "/api/rooms", eve.token, { name: "mine", createdBy: ana.id, kind: "direct" });
    refusedOrIgnored(created.status);
    if (created.status === 201) {
      const [r] = await db().select().from(rooms).where(eq(rooms.id, created.json.room.id));
      expect(r).toMatchObject({ createdBy: eve.id, kind: "group" });
    }
    const room = await createRoom(ana.id);
    const patched = await api("PATCH", `/api/rooms/${room.id}`, ana.token, { name: "n", createdBy: eve.id, kind: "x" });
    refusedOrIgnored(patched.status);
    const [r] = await db().select().from(rooms).where(eq(rooms.id, room.id));
    expect(r).toMatchObject({ createdBy: ana.id, kind: "group" });
    const invited = await api("POST", `/api/rooms/${room.id}/members`, ana.token, { userId: ben.id, role: "owner" });
    expect(invited.status).toBe(400);
    const roles = await db().select().from(roomMembers).where(eq(roomMembers.roomId, room.id));
    expect(roles.filter((m) => m.role === "owner").map((m) => m.userId)).toEqual([ana.id]);
  });

  it("settings and push subscriptions cannot set a secret or another user's id", async () => {
    const me = await createUser("me");
    const other = await createUser("other");
    const s = await api("PATCH", "/api/me/notification-settings", me.token, {
      channels: { push: false },
      webhookSecret: "whsec_chosen",
      userId: other.id,
    });
    refusedOrIgnored(s.status);
    expect(await db().select().from(notificationSettings).where(eq(notificationSettings.userId, other.id))).toEqual([]);
    const endpoint = `https://push.example.com/${crypto.randomUUID()}`;
    const p = await api("POST", "/api/push/subscriptions", me.token, {
      endpoint,
      keys: await browserKeys(),
      userId: other.id,
      id: crypto.randomUUID(),
    });
    refusedOrIgnored(p.status);
    const rows = await db().select().from(pushSubscriptions).where(eq(pushSubscriptions.endpoint, endpoint));
    expect(rows.every((r) => r.userId === me.id)).toBe(true);
  });
});
