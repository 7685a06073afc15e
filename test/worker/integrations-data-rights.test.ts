/**
 * Integrations, part 4 (issue 27): data rights and retention. An export holds everything of the user and
 * nothing of anyone else's rooms (at once when small, in the background when large); deleting an account
 * ends its tokens and sockets at once and leaves none of its content where the policy says delete (Postgres,
 * Redis, R2, the room objects) or keeps it anonymous; retention removes expired messages everywhere while
 * clients catching up see tombstones with gapless versions. Every bad input is a 4xx with a stable code.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { and, eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attachments } from "../../src/db/attachment-schema";
import { accountDeletions, pushDevices } from "../../src/db/integration-schema";
import { userBlocks } from "../../src/db/moderation-schema";
import { messageReactions, messages, roomMembers, sessions, users } from "../../src/db/schema";
import { withRedis } from "../../src/lib/redis";
import { sweepAttachments } from "../../src/worker/attachments/sweep";
import { startAccountDeletion } from "../../src/worker/integrations/data-rights";
import { applyRetention } from "../../src/worker/integrations/retention";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createAdmin, createBot, createKey } from "../helpers/integrations";
import { waitFor } from "../helpers/notify";
import { stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const PASSWORD = "correct horse battery staple";

/** A user with a real password (account deletion asks for it). */
async function registered(name: string) {
  const res = await api("POST", "/api/auth/register", undefined, {
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: PASSWORD,
  });
  expect(res.status).toBe(201);
  return { ...(res.json.user as { id: string; email: string }), token: res.json.accessToken as string };
}

const say = async (roomId: string, token: string, body: string, extra: object = {}) => {
  const res = await api("POST", `/api/rooms/${roomId}/messages`, token, {
    clientMsgId: crypto.randomUUID(),
    body,
    ...extra,
  });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.message.seq as number;
};

async function upload(roomId: string, token: string, text: string) {
  const created = await api("POST", `/api/rooms/${roomId}/attachments`, token, {
    filename: "notes.txt",
    contentType: "text/plain",
    size: text.length,
  });
  expect(created.status).toBe(201);
  const id = created.json.attachment.id as string;
  const put = await exports.default.fetch(`http://edgechat.test/api/attachments/${id}/content`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    body: text,
  });
  expect(put.status).toBe(200);
  await put.arrayBuffer();
  return id;
}

async function downloadJson(path: string, token: string) {
  const res = await exports.default.fetch(`http://edgechat.test${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="edgechat-export-/);
  const text = await res.text();
  return { text, json: JSON.parse(text) };
}

async function bufferOf(roomId: string): Promise<{ seq: number; senderId: string; body: string | null }[]> {
  const members = await withRedis(env, (r) => r.zrange<unknown[]>(`room:${roomId}:recent`, 0, -1));
  return members.map((m) => (typeof m === "string" ? JSON.parse(m) : m)) as never;
}

/** The room object's own rows, read inside it. */
async function roomRows(roomId: string, query: string, ...params: unknown[]) {
  return runInDurableObject(stubFor(roomId), (instance: object) => {
    const storage = (instance as { ctx: DurableObjectState }).ctx.storage;
    return storage.sql.exec(query, ...params).toArray();
  });
}

describe("export", () => {
  it("holds the user's data and nothing of rooms they are not in", async () => {
    const [ana, ben, cyd, dee] = await Promise.all([
      registered("Ana"),
      registered("Ben"),
      registered("Cyd"),
      registered("Dee"),
    ]);
    const shared = await createRoom(ben.id, [ana.id]);
    const direct = await createRoom(ana.id, [cyd.id]);
    const secret = await createRoom(ben.id, [dee.id]);
    await say(secret.id, ben.token, "the secret plan");
    const benSeq = await say(shared.id, ben.token, "hi Ana");
    const fileId = await upload(shared.id, ana.token, "ana's notes");
    await say(shared.id, ana.token, "see attached", { attachments: [fileId] });
    await say(direct.id, ana.token, "hello Cyd");
    expect(
      (await api("POST", `/api/messages/${shared.id}/${benSeq}/reactions`, ana.token, { emoji: "👍" })).status,
    ).toBe(204);
    expect((await api("PUT", `/api/me/blocks/${dee.id}`, ana.token)).status).toBe(204);
    for (const r of [shared, direct, secret]) await drainOutbox(r.id);

    const made = await api("POST", "/api/me/export", ana.token);
    expect(made.status).toBe(201);
    expect(made.json.export).toMatchObject({ state: "ready", size: expect.any(Number) });
    const { text, json } = await downloadJson(`/api/me/exports/${made.json.export.id}/download`, ana.token);
    expect(json.user).toMatchObject({ id: ana.id, email: ana.email, displayName: "Ana" });
    expect(json.rooms.map((r: { id: string }) => r.id).sort()).toEqual([shared.id, direct.id].sort());
    expect(json.messages.map((m: { body: string }) => m.body).sort()).toEqual(["hello Cyd", "see attached"]);
    const withFile = json.messages.find((m: { body: string }) => m.body === "see attached");
    expect(withFile.attachments).toEqual([
      expect.objectContaining({
        id: fileId,
        filename: "notes.txt",
        contentType: "text/plain",
        downloadUrl: `/api/attachments/${fileId}`,
      }),
    ]);
    expect(json.reactions).toEqual([expect.objectContaining({ roomId: shared.id, seq: benSeq, emoji: "👍" })]);
    expect(json.settings.blocks).toEqual([expect.objectContaining({ userId: dee.id })]);
    expect(json.uploads.map((u: { id: string }) => u.id)).toEqual([fileId]);
    // Nothing of the room Ana is not in: not its id, not its words.
    expect(text).not.toContain(secret.id);
    expect(text).not.toContain("the secret plan");
    const listed = await api("GET", "/api/me/exports", ana.token);
    expect(listed.json.exports.map((e: { id: string }) => e.id)).toContain(made.json.export.id);
    // Someone else's export is not there for Ben.
    expect((await api("GET", `/api/me/exports/${made.json.export.id}`, ben.token)).status).toBe(404);
    expect((await api("GET", `/api/me/exports/${made.json.export.id}/download`, ben.token)).status).toBe(404);
  });

  it("builds a large account's archive in the background; admins can export and download anyone's", async () => {
    const admin = await createAdmin();
    const eve = await createUser("Eve");
    const room = await createRoom(eve.id);
    // More messages than EXPORT_INLINE_MAX_MESSAGES (5 in tests), written as the room would have.
    await db()
      .insert(messages)
      .values(
        Array.from({ length: 8 }, (_, i) => ({
          roomId: room.id,
          seq: i + 1,
          senderId: eve.id,
          clientMsgId: `bulk-${i}`,
          body: `bulk message ${i}`,
        })),
      );
    const made = await api("POST", "/api/me/export", eve.token);
    expect(made.status).toBe(202);
    expect(made.json.export.state).toBe("pending");
    const ready = await waitFor(async () => {
      const res = await api("GET", `/api/me/exports/${made.json.export.id}`, eve.token);
      return res.json.export.state === "ready" ? res.json.export : null;
    });
    expect(ready.size).toBeGreaterThan(0);
    const mine = await downloadJson(`/api/me/exports/${made.json.export.id}/download`, eve.token);
    expect(mine.json.messages).toHaveLength(8);

    const byAdmin = await api("POST", `/api/admin/users/${eve.id}/export`, admin.token);
    expect(byAdmin.status).toBe(202);
    await waitFor(async () => {
      const res = await api("GET", `/api/admin/users/${eve.id}/exports`, admin.token);
      return res.json.exports.find(
        (e: { id: string; state: string }) => e.id === byAdmin.json.export.id && e.state === "ready",
      );
    });
    const theirs = await downloadJson(`/api/admin/exports/${byAdmin.json.export.id}/download`, admin.token);
    expect(theirs.json.user.id).toBe(eve.id);
    // The admin routes are absent for everyone else.
    expect((await api("POST", `/api/admin/users/${eve.id}/export`, eve.token)).status).toBe(404);
  });
});

describe("account deletion", () => {
  it("ends tokens and sockets at once, then leaves nothing of the user's content anywhere", async () => {
    const admin = await createAdmin();
    const [ana, ben] = await Promise.all([registered("Ana"), registered("Ben")]);
    const room = await createRoom(ana.id, [ben.id]);
    const benSeq = await say(room.id, ben.token, "Ben stays");
    const fileId = await upload(room.id, ana.token, "to be forgotten");
    const anaSeqs = [
      await say(room.id, ana.token, "Ana's first"),
      await say(room.id, ana.token, "with a file", { attachments: [fileId] }),
    ];
    expect((await api("POST", `/api/messages/${room.id}/${benSeq}/reactions`, ana.token, { emoji: "🎉" })).status).toBe(
      204,
    );
    expect((await api("PUT", `/api/me/blocks/${ben.id}`, ana.token)).status).toBe(204);
    expect(
      (await api("POST", "/api/me/devices", ana.token, { platform: "fcm", token: `fcm-${crypto.randomUUID()}-token` }))
        .status,
    ).toBe(201);
    const socket = await pool.join(room.id, ana.token);
    await drainOutbox(room.id);
    const [file] = await db().select().from(attachments).where(eq(attachments.id, fileId));

    expect((await api("DELETE", "/api/me/account", ana.token, { password: "not it" })).status).toBe(403);
    const started = await api("DELETE", "/api/me/account", ana.token, { password: PASSWORD });
    expect(started.status).toBe(202);
    expect(started.json.deletion).toMatchObject({ userId: ana.id, policy: "delete" });
    // At once: the token, the socket, the password.
    expect((await api("GET", "/api/auth/me", ana.token)).status).toBe(401);
    expect((await socket.waitClosed()).code).toBe(4001);
    expect((await api("POST", "/api/auth/login", undefined, { email: ana.email, password: PASSWORD })).status).toBe(
      401,
    );

    await waitFor(async () => {
      const res = await api("GET", `/api/admin/users/${ana.id}/deletion`, admin.token);
      return res.json.deletion?.state === "done";
    }, 15_000);
    await drainOutbox(room.id);
    // Postgres
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id));
    for (const m of rows.filter((r) => r.senderId === ana.id)) {
      expect(m).toMatchObject({ body: "", attachments: null });
      expect(m.deletedAt).not.toBeNull();
    }
    expect(rows.find((r) => r.seq === benSeq)).toMatchObject({ body: "Ben stays", deletedAt: null });
    expect(await db().select().from(messageReactions).where(eq(messageReactions.userId, ana.id))).toEqual([]);
    expect(await db().select().from(roomMembers).where(eq(roomMembers.userId, ana.id))).toEqual([]);
    const [heir] = await db().select().from(roomMembers).where(eq(roomMembers.roomId, room.id));
    expect(heir).toMatchObject({ userId: ben.id, role: "owner" });
    expect(await db().select().from(userBlocks).where(eq(userBlocks.blockerId, ana.id))).toEqual([]);
    expect(await db().select().from(pushDevices).where(eq(pushDevices.userId, ana.id))).toEqual([]);
    expect(await db().select().from(sessions).where(eq(sessions.userId, ana.id))).toEqual([]);
    const [gone] = await db().select().from(users).where(eq(users.id, ana.id));
    expect(gone).toMatchObject({ displayName: "Deleted user", email: `deleted-${ana.id}@deleted.invalid` });
    const [fileRow] = await db().select().from(attachments).where(eq(attachments.id, fileId));
    expect(fileRow?.state).toBe("deleted");
    // R2
    expect(await env.ATTACHMENTS.get(file?.r2Key ?? "")).toBeNull();
    // Redis: the buffered copies of her messages are tombstones.
    const buffered = await bufferOf(room.id);
    for (const seq of anaSeqs) expect(buffered.find((m) => m.seq === seq)?.body ?? null).toBeNull();
    expect(buffered.find((m) => m.seq === benSeq)?.body).toBe("Ben stays");
    expect(await withRedis(env, (r) => r.exists(`ratelimit:user:${ana.id}`))).toBe(0);
    // The room object: no text of hers, no reaction, no block, not on its roster.
    const own = await roomRows(room.id, "SELECT body FROM messages WHERE sender_id = ?", ana.id);
    expect(own.map((r) => r.body)).toEqual([null, null]);
    expect(await roomRows(room.id, "SELECT * FROM reactions WHERE user_id = ?", ana.id)).toEqual([]);
    expect(await roomRows(room.id, "SELECT * FROM blocks WHERE blocker = ? OR blocked = ?", ana.id, ana.id)).toEqual(
      [],
    );
    const roster = await roomRows(room.id, "SELECT role FROM roster WHERE user_id = ?", ana.id);
    expect(roster.every((r) => r.role === null)).toBe(true);
    const changes = await roomRows(room.id, "SELECT frame FROM changes WHERE seq IN (?, ?)", ...anaSeqs);
    expect(changes.map((c) => String(c.frame)).join("\n")).not.toContain("Ana's first");
    // Ben's view: tombstones where her messages were, seq gapless.
    const history = await api("GET", `/api/rooms/${room.id}/messages`, ben.token);
    expect(history.json.messages.map((m: { seq: number }) => m.seq).sort()).toEqual([1, 2, 3]);
  });

  it("anonymises instead when the deployment says so: messages kept, author 'Deleted user', files gone", async () => {
    const admin = await createAdmin();
    const [ana, ben] = await Promise.all([registered("Ana"), registered("Ben")]);
    const room = await createRoom(ben.id, [ana.id]);
    const fileId = await upload(room.id, ana.token, "bytes");
    await say(room.id, ana.token, "I was here", { attachments: [fileId] });
    await drainOutbox(room.id);
    const [file] = await db().select().from(attachments).where(eq(attachments.id, fileId));
    expect(await startAccountDeletion(env, ana.id, admin.id, "anonymise")).toBe(true);
    await waitFor(async () => {
      const [row] = await db().select().from(accountDeletions).where(eq(accountDeletions.userId, ana.id));
      return row?.state === "done";
    }, 15_000);
    const [kept] = await db()
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, room.id), eq(messages.senderId, ana.id)));
    expect(kept).toMatchObject({ body: "I was here", deletedAt: null });
    const [author] = await db().select().from(users).where(eq(users.id, ana.id));
    expect(author?.displayName).toBe("Deleted user");
    expect(await env.ATTACHMENTS.get(file?.r2Key ?? "")).toBeNull();
    expect(await db().select().from(roomMembers).where(eq(roomMembers.userId, ana.id))).toEqual([]);
  });

  it("admins delete anyone but themselves; bad input is refused with a stable code", async () => {
    const admin = await createAdmin();
    const victim = await registered("Victim");
    expect((await api("DELETE", `/api/admin/users/${admin.id}`, admin.token)).status).toBe(409);
    expect((await api("DELETE", `/api/admin/users/${crypto.randomUUID()}`, admin.token)).status).toBe(404);
    expect((await api("DELETE", "/api/admin/users/nope", admin.token)).status).toBe(404);
    const started = await api("DELETE", `/api/admin/users/${victim.id}`, admin.token);
    expect(started.status).toBe(202);
    expect((await api("GET", "/api/auth/me", victim.token)).status).toBe(401);
    // A bot deleted by an admin: its keys stop at once.
    const bot = await createBot(admin.token);
    const { key } = await createKey(admin.token, ["messages:read"], { botId: bot.id });
    expect((await api("GET", "/api/integrations/me", key)).status).toBe(200);
    expect((await api("DELETE", `/api/admin/users/${bot.id}`, admin.token)).status).toBe(202);
    expect((await api("GET", "/api/integrations/me", key)).status).toBe(401);
    const me = await registered("Me");
    const bad: [unknown, number, string][] = [
      [{}, 400, "validation_failed"],
      [{ password: "" }, 400, "validation_failed"],
      [{ password: PASSWORD, now: true }, 400, "validation_failed"],
    ];
    for (const [body, status, code] of bad) {
      const res = await api("DELETE", "/api/me/account", me.token, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error.code).toBe(code);
    }
    expect((await api("GET", `/api/admin/users/${me.id}/deletion`, admin.token)).status).toBe(404);
    expect((await api("GET", "/api/me/exports/nope", me.token)).status).toBe(404);
  });
});

describe("retention", () => {
  it("removes expired messages everywhere, and clients catching up get tombstones with gapless versions", async () => {
    const admin = await createAdmin();
    const [owner, member] = [await createUser("owner"), await createUser("member")];
    const room = await createRoom(owner.id, [member.id]);
    const fileId = await upload(room.id, owner.token, "old file");
    // Three each at most: the room's throttle allows 3 per 5 s per member.
    for (const [i, body] of ["one", "two", "three", "four", "five"].entries()) {
      await say(room.id, i < 3 ? owner.token : member.token, body, i === 1 ? { attachments: [fileId] } : {});
    }
    await drainOutbox(room.id);
    const [file] = await db().select().from(attachments).where(eq(attachments.id, fileId));
    // Three of them were written ten days ago.
    await db()
      .update(messages)
      .set({ createdAt: sql`now() - interval '10 days'` })
      .where(and(eq(messages.roomId, room.id), inArray(messages.seq, [1, 2, 3])));
    const set = await api("PUT", `/api/admin/rooms/${room.id}/retention`, admin.token, { days: 7 });
    expect(set.json).toEqual({
      roomId: room.id,
      days: 7,
      deploymentDays: 0,
      effectiveDays: 7,
      adminDays: 7,
      ownerMaxDays: 7,
    });
    const before = (await api("GET", `/api/rooms/${room.id}/messages`, owner.token)).json.version as number;

    const first = await applyRetention(env);
    expect(first.messages).toBeGreaterThanOrEqual(3);
    await drainOutbox(room.id);
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id));
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    for (const seq of [1, 2, 3])
      expect(bySeq.get(seq)).toMatchObject({ body: "", attachments: null, deletedAt: expect.any(Date) });
    for (const seq of [4, 5]) expect(bySeq.get(seq)?.deletedAt).toBeNull();
    // R2: the expired message's file is tombstoned, and the hourly sweep takes its bytes.
    await sweepAttachments(env);
    expect(await env.ATTACHMENTS.get(file?.r2Key ?? "")).toBeNull();
    // Redis and the room's own storage.
    const buffered = await bufferOf(room.id);
    for (const seq of [1, 2, 3]) expect(buffered.find((m) => m.seq === seq)?.body ?? null).toBeNull();
    expect(
      (await roomRows(room.id, "SELECT seq FROM messages WHERE body IS NOT NULL ORDER BY seq")).map((r) => r.seq),
    ).toEqual([4, 5]);
    // A client that had the room up to `before` learns of exactly three tombstones, numbered after it.
    const socket = await pool.since(room.id, owner.token, before);
    const synced = await socket.next("synced");
    const deleted = socket.frames.filter((f) => f.type === "deleted");
    expect(deleted.map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(deleted.map((f) => f.v)).toEqual([before + 1, before + 2, before + 3]);
    expect(synced).toMatchObject({ fromVersion: before + 1, toVersion: before + 3 });
    // A second run finds nothing more to do here.
    await applyRetention(env);
    await drainOutbox(room.id);
    const after = (await api("GET", `/api/rooms/${room.id}/messages`, owner.token)).json.version;
    expect(after).toBe(before + 3);
  });

  it("per-room settings: read, set, cleared, refused when wrong", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    const path = `/api/admin/rooms/${room.id}/retention`;
    expect((await api("GET", path, admin.token)).json).toEqual({
      roomId: room.id,
      days: null,
      deploymentDays: 0,
      effectiveDays: 0,
      adminDays: null,
      ownerMaxDays: 0,
    });
    expect((await api("PUT", path, admin.token, { days: 30 })).json.effectiveDays).toBe(30);
    expect((await api("DELETE", path, admin.token)).json).toMatchObject({ days: null, effectiveDays: 0 });
    const cases: [string, string, unknown, number, string][] = [
      ["PUT", path, { days: 0 }, 400, "validation_failed"],
      ["PUT", path, { days: 1.5 }, 400, "validation_failed"],
      ["PUT", path, { days: "30" }, 400, "validation_failed"],
      ["PUT", path, { days: 30, from: "now" }, 400, "validation_failed"],
      ["PUT", `/api/admin/rooms/${crypto.randomUUID()}/retention`, { days: 30 }, 404, "not_found"],
      ["GET", "/api/admin/rooms/nope/retention", undefined, 404, "not_found"],
    ];
    for (const [method, p, body, status, code] of cases) {
      const res = await api(method, p, admin.token, body);
      expect(res.status, `${method} ${p} ${JSON.stringify(body)}`).toBe(status);
      expect(res.json.error.code).toBe(code);
    }
    expect((await api("PUT", path, owner.token, { days: 30 })).status).toBe(404);
  });

  it("owners may shorten their room's lifetime, never lengthen it past an admin's or the deployment's", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const member = await createUser("member");
    const room = await createRoom(owner.id, [member.id]);
    const own = `/api/rooms/${room.id}/retention`;
    const adminPath = `/api/admin/rooms/${room.id}/retention`;
    // No lifetime anywhere: the owner may pick any, and go back to keeping everything.
    expect((await api("PUT", own, owner.token, { days: 90 })).json).toMatchObject({ days: 90, effectiveDays: 90 });
    expect((await api("GET", own, member.token)).json).toMatchObject({ effectiveDays: 90, ownerMaxDays: 0 });
    expect((await api("DELETE", own, owner.token)).json).toMatchObject({ days: null, effectiveDays: 0 });
    // An admin's 30 days bind the owner: shorter is fine, longer refused, clearing returns to the admin's.
    await api("PUT", adminPath, admin.token, { days: 30 });
    const shorter = await api("PUT", own, owner.token, { days: 7 });
    expect(shorter.json).toMatchObject({ days: 7, effectiveDays: 7, adminDays: 30, ownerMaxDays: 30 });
    const longer = await api("PUT", own, owner.token, { days: 31 });
    expect(longer.status).toBe(422);
    expect(longer.json.error).toMatchObject({
      code: "unprocessable",
      details: [{ field: "days", message: "at most 30" }],
    });
    expect((await api("DELETE", own, owner.token)).json).toMatchObject({ days: 30, effectiveDays: 30, adminDays: 30 });
    // Members may read it but not change it; non-members are told the room does not exist.
    const byMember = await api("PUT", own, member.token, { days: 1 });
    expect(byMember.status).toBe(403);
    expect(byMember.json.error.code).toBe("forbidden");
    expect((await api("GET", own, (await createUser("stranger")).token)).status).toBe(404);
    expect((await api("PUT", own, owner.token, { days: 0 })).status).toBe(400);
    // The admin clears it: the deployment's lifetime again, and no ceiling for the owner.
    expect((await api("DELETE", adminPath, admin.token)).json).toMatchObject({ days: null, adminDays: null });
  });
});
