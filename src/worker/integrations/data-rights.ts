/**
 * Integrations (issue 27), data rights: a user's data as one JSON archive, and deleting an account.
 *
 * Export: profile, settings (notification settings, mutes, blocks), devices, the rooms they are in, every
 * message they sent (in any room, with its attachments' metadata and download links), their reactions,
 * their notifications (of rooms they are still in) and the reports they filed. Nothing of other people's
 * rooms: only their own messages from rooms they left, never anyone else's. Built into R2 in parts (no
 * whole archive in memory): at once for accounts up to EXPORT_INLINE_MAX_MESSAGES messages, otherwise by
 * an `export.build` job; downloadable until EXPORT_TTL_HOURS.
 *
 * Deletion, started in the request: the password hash becomes unusable, every session and refresh token is
 * revoked (Redis markers too, so access tokens fail from the next request on), sockets close (4001).
 * Finished by an `account.erase` job, every step idempotent: in each room, under ACCOUNT_DELETION_POLICY=delete,
 * their reactions are removed and their messages tombstoned (through the room, so its SQLite,
 * change log, Redis buffer and Postgres agree); they leave every room (an owner hands over as on leave);
 * their uploads leave R2; their notifications, settings, devices, subscriptions, blocks, exports and
 * sessions are deleted; the users row is scrubbed to "Deleted user" (kept so anonymised messages keep a
 * sender). `user.deleted` goes to webhook endpoints that asked for it.
 */
import { and, asc, desc, eq, gt, inArray, isNull, ne, or, sql } from "drizzle-orm";
import { attachments } from "../../db/attachment-schema";
import { createDb, type Db } from "../../db/client";
import { accountDeletions, dataExports, pushDevices } from "../../db/integration-schema";
import { reports, userBlocks } from "../../db/moderation-schema";
import { notificationKeys, notificationSettings, notifications, pushSubscriptions } from "../../db/notification-schema";
import { loadViews } from "../../db/notification-views";
import { messageReactions, messages, roomMembers, rooms, sessions, users } from "../../db/schema";
import { bannedKey, sessionKey } from "../../db/sessions";
import { mapBounded } from "../../lib/bounded";
import { positiveSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import { redisConfigured, withRedis } from "../../lib/redis";
import type { Actor } from "../../protocol/identity";
import { roomRemovedFor } from "../inbox";
import { recordInRoom } from "../room-log";
import { revokingInRoom } from "../room-membership";
import { disconnectEverywhere, roomStub } from "../rooms";
import type { Bindings } from "../types";

export type DeletionPolicy = "delete" | "anonymise";

export function deletionPolicy(env: Bindings): DeletionPolicy {
  return env.ACCOUNT_DELETION_POLICY === "anonymise" ? "anonymise" : "delete";
}

const DELETED_NAME = "Deleted user";
const UNUSABLE_PASSWORD = "!deleted";
const PAGE = 1000;

// --- export ---------------------------------------------------------------------------------------

/** Writes text to one R2 object in parts of at least 5 MiB (R2's multipart minimum), or one put if small. */
class R2Writer {
  private chunks: string[] = [];
  private bytes = 0;
  private total = 0;
  private upload: R2MultipartUpload | null = null;
  private parts: R2UploadedPart[] = [];
  private static readonly PART_BYTES = 5 * 1024 * 1024;
  private static readonly encoder = new TextEncoder();

  // Plain fields, not parameter properties: the fuzzer and other Node scripts load this module with
  // Node's type stripping, which refuses parameter properties.
  private readonly bucket: R2Bucket;
  private readonly key: string;

  constructor(bucket: R2Bucket, key: string) {
    this.bucket = bucket;
    this.key = key;
  }

  async write(text: string): Promise<void> {
    this.chunks.push(text);
    const n = R2Writer.encoder.encode(text).length;
    this.bytes += n;
    this.total += n;
    if (this.bytes >= R2Writer.PART_BYTES) await this.flushPart();
  }

  private async flushPart(): Promise<void> {
    const options = { httpMetadata: { contentType: "application/json" } };
    this.upload ??= await this.bucket.createMultipartUpload(this.key, options);
    this.parts.push(await this.upload.uploadPart(this.parts.length + 1, this.chunks.join("")));
    this.chunks = [];
    this.bytes = 0;
  }

  /** Returns the object's size in bytes. */
  async close(): Promise<number> {
    if (!this.upload) {
      await this.bucket.put(this.key, this.chunks.join(""), { httpMetadata: { contentType: "application/json" } });
    } else {
      if (this.bytes > 0) await this.flushPart();
      await this.upload.complete(this.parts);
    }
    return this.total;
  }

  async abort(): Promise<void> {
    await this.upload?.abort().catch(() => undefined);
  }
}

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

/** Messages the user sent, keyset pages on (room, seq). */
async function* ownMessages(db: Db, userId: string) {
  let after: { roomId: string; seq: number } | null = null;
  for (;;) {
    const rows: (typeof messages.$inferSelect)[] = await db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.senderId, userId),
          after ? sql`(${messages.roomId}, ${messages.seq}) > (${after.roomId}::uuid, ${after.seq})` : undefined,
        ),
      )
      .orderBy(asc(messages.roomId), asc(messages.seq))
      .limit(PAGE);
    yield rows;
    const last = rows[rows.length - 1];
    if (!last || rows.length < PAGE) return;
    after = { roomId: last.roomId, seq: last.seq };
  }
}

/** Writes the archive of `userId` to R2 under `key`; answers its size. */
async function writeArchive(env: Bindings, db: Db, userId: string, key: string): Promise<number> {
  const [profile, settings, memberships, blocked, devices, subs, reactions, filed, uploads] = await db.batch([
    db.select().from(users).where(eq(users.id, userId)),
    db.select().from(notificationSettings).where(eq(notificationSettings.userId, userId)),
    db
      .select({ m: roomMembers, room: rooms })
      .from(roomMembers)
      .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
      .where(eq(roomMembers.userId, userId))
      .orderBy(asc(roomMembers.joinedAt)),
    db.select().from(userBlocks).where(eq(userBlocks.blockerId, userId)),
    db.select().from(pushDevices).where(eq(pushDevices.userId, userId)),
    db.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId)),
    db.select().from(messageReactions).where(eq(messageReactions.userId, userId)),
    db.select().from(reports).where(eq(reports.reporterId, userId)),
    db.select().from(attachments).where(eq(attachments.uploaderId, userId)),
  ]);
  const user = profile[0];
  if (!user) throw new Error("the user of this export is gone");
  const memberOf = new Set(memberships.map((m) => m.room.id));
  const notes = memberOf.size
    ? await loadViews(db, and(eq(notifications.userId, userId), inArray(notifications.roomId, [...memberOf])))
    : [];
  const out = new R2Writer(env.ATTACHMENTS, key);
  const field = (name: string, value: unknown, first = false) =>
    out.write(`${first ? "" : ","}\n  ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  try {
    await out.write("{");
    await field("format", "edgechat-export/1", true);
    await field("exportedAt", new Date().toISOString());
    await field("user", {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      createdAt: iso(user.createdAt),
    });
    const s = settings[0];
    await field("settings", {
      notifications: {
        channels: { inApp: s?.inApp ?? true, webhook: s?.webhook ?? true, push: s?.push ?? true },
        webhookUrl: s?.webhookUrl ?? null,
      },
      mutes: memberships
        .filter((m) => m.m.mutedUntil !== null)
        .map((m) => ({ roomId: m.room.id, until: iso(m.m.mutedUntil) })),
      blocks: blocked.map((b) => ({ userId: b.blockedId, since: iso(b.createdAt) })),
    });
    await field("devices", [
      ...devices.map((d) => ({ id: d.id, platform: d.platform, registeredAt: iso(d.createdAt) })),
      ...subs.map((p) => ({
        id: p.id,
        platform: "webpush",
        endpoint: new URL(p.endpoint).origin,
        registeredAt: iso(p.createdAt),
      })),
    ]);
    await field(
      "rooms",
      memberships.map(({ m, room }) => ({
        id: room.id,
        kind: room.kind,
        name: room.name,
        topic: room.topic,
        role: m.role,
        joinedAt: iso(m.joinedAt),
        lastReadSeq: m.lastReadSeq,
      })),
    );
    await out.write(',\n  "messages": [');
    let firstMessage = true;
    for await (const page of ownMessages(db, userId)) {
      for (const m of page) {
        const item = {
          roomId: m.roomId,
          seq: m.seq,
          kind: m.kind,
          body: m.deletedAt ? null : m.body,
          replyTo: m.replyTo,
          createdAt: iso(m.createdAt),
          editedAt: iso(m.editedAt),
          deletedAt: iso(m.deletedAt),
          attachments: (m.attachments ?? []).map((a) => ({ ...a, downloadUrl: `/api/attachments/${a.id}` })),
          custom: m.custom ?? null,
        };
        await out.write(`${firstMessage ? "" : ","}\n    ${JSON.stringify(item)}`);
        firstMessage = false;
      }
    }
    await out.write("\n  ]");
    await field(
      "uploads",
      uploads.map((a) => ({
        id: a.id,
        roomId: a.roomId,
        filename: a.filename,
        contentType: a.contentType,
        size: a.size,
        sha256: a.sha256,
        state: a.state,
        messageSeq: a.messageSeq,
        downloadUrl: a.state === "sent" || a.state === "uploaded" ? `/api/attachments/${a.id}` : null,
        createdAt: iso(a.createdAt),
      })),
    );
    await field(
      "reactions",
      reactions.map((r) => ({ roomId: r.roomId, seq: r.seq, emoji: r.emoji, createdAt: iso(r.createdAt) })),
    );
    await field("notifications", notes);
    await field(
      "reports",
      filed.map((r) => ({
        id: r.id,
        roomId: r.roomId,
        seq: r.seq,
        targetUserId: r.targetUserId,
        reason: r.reason,
        text: r.text,
        state: r.state,
        createdAt: iso(r.createdAt),
      })),
    );
    await out.write("\n}\n");
    return await out.close();
  } catch (err) {
    await out.abort();
    throw err;
  }
}

export function exportKey(userId: string, exportId: string): string {
  return `exports/${userId}/${exportId}.json`;
}

/** Builds a pending export (idempotent: a ready one is left as it is). */
export async function buildExport(env: Bindings, db: Db, exportId: string): Promise<void> {
  const [row] = await db.select().from(dataExports).where(eq(dataExports.id, exportId));
  if (row?.state !== "pending") return;
  const key = exportKey(row.userId, row.id);
  try {
    const size = await writeArchive(env, db, row.userId, key);
    await db
      .update(dataExports)
      .set({
        state: "ready",
        r2Key: key,
        size,
        completedAt: sql`now()`,
        expiresAt: sql`now() + make_interval(hours => ${positiveSetting(env, "EXPORT_TTL_HOURS")})`,
      })
      .where(eq(dataExports.id, exportId));
    logJson("info", { msg: "data export ready", exportId, userId: row.userId, size });
  } catch (err) {
    logJson("error", { msg: "data export failed", exportId, error: (err as Error).message });
    throw err;
  }
}

/** A new export: built now for a small account, queued otherwise. Answers its id. */
export async function requestExport(
  env: Bindings,
  userId: string,
  requestedBy: string,
): Promise<{ id: string; background: boolean }> {
  const db = createDb(env);
  const [[row], [count]] = await db.batch([
    db.insert(dataExports).values({ userId, requestedBy }).returning({ id: dataExports.id }),
    db.select({ n: sql<number>`count(*)::int` }).from(messages).where(eq(messages.senderId, userId)),
  ]);
  if (!row) throw new Error("insert returned nothing");
  if ((count?.n ?? 0) > positiveSetting(env, "EXPORT_INLINE_MAX_MESSAGES")) {
    await env.NOTIFICATIONS.send({ kind: "export.build", exportId: row.id });
    return { id: row.id, background: true };
  }
  await buildExport(env, db, row.id);
  return { id: row.id, background: false };
}

export async function exportRows(db: Db, userId: string, id?: string) {
  return db
    .select()
    .from(dataExports)
    .where(and(eq(dataExports.userId, userId), id ? eq(dataExports.id, id) : undefined))
    .orderBy(desc(dataExports.createdAt))
    .limit(50);
}

export function exportView(row: typeof dataExports.$inferSelect) {
  const expired = row.expiresAt !== null && row.expiresAt.getTime() <= Date.now();
  return {
    id: row.id,
    state: expired ? ("expired" as const) : row.state,
    size: row.size,
    createdAt: row.createdAt.toISOString(),
    completedAt: iso(row.completedAt),
    expiresAt: iso(row.expiresAt),
  };
}

/** Hourly: expired archives leave R2 and their rows go. */
export async function pruneExports(env: Bindings, db: Db): Promise<number> {
  const gone = await db
    .delete(dataExports)
    .where(sql`${dataExports.expiresAt} < now()`)
    .returning({ key: dataExports.r2Key });
  const keys = gone.flatMap((g) => (g.key ? [g.key] : []));
  for (let i = 0; i < keys.length; i += 1000) await env.ATTACHMENTS.delete(keys.slice(i, i + 1000));
  return gone.length;
}

// --- deletion --------------------------------------------------------------------------------------

/**
 * The part that must hold from the next request on: no password, no session, no socket. Then the rest is
 * queued. Answers false when the user does not exist (or was already deleted).
 */
export async function startAccountDeletion(
  env: Bindings,
  userId: string,
  requestedBy: string,
  policy: DeletionPolicy = deletionPolicy(env),
): Promise<boolean> {
  const db = createDb(env);
  const [[user], , revoked] = await db.batch([
    db
      .update(users)
      .set({ passwordHash: UNUSABLE_PASSWORD, updatedAt: sql`now()` })
      .where(eq(users.id, userId))
      .returning({ id: users.id }),
    db.insert(accountDeletions).values({ userId, requestedBy, policy }).onConflictDoNothing(),
    db
      .update(sessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id }),
    db.execute(
      sql`update refresh_tokens set revoked_at = now() where user_id = ${userId}::uuid and revoked_at is null`,
    ),
    // A bot's keys go with it.
    db.execute(sql`update api_keys set revoked_at = now() where principal_id = ${userId}::uuid and revoked_at is null`),
  ]);
  if (!user) return false;
  if (redisConfigured(env)) {
    const ttl = positiveSetting(env, "ACCESS_TOKEN_TTL_SECONDS") + 60;
    await withRedis(env, async (r) => {
      const p = r.pipeline();
      p.set(bannedKey(userId), "1", { ex: ttl });
      for (const s of revoked) p.set(sessionKey(s.id), "revoked", { ex: ttl });
      await p.exec();
    }).catch((err: Error) =>
      logJson("error", {
        msg: "deletion markers not cached; sessions are revoked in Postgres",
        userId,
        error: err.message,
      }),
    );
  }
  await disconnectEverywhere(env, db, userId, "logged_out");
  await env.NOTIFICATIONS.send({ kind: "account.erase", userId });
  logJson("info", { msg: "account deletion started", userId, requestedBy, policy });
  return true;
}

/** Everything else, idempotently; the job runs again (queue retry) until it gets to the end. */
export async function eraseAccount(env: Bindings, db: Db, userId: string): Promise<void> {
  const [record] = await db.select().from(accountDeletions).where(eq(accountDeletions.userId, userId));
  if (!record || record.state === "done") return;
  const deleteMessages = record.policy === "delete";
  try {
    const memberships = await db
      .select({ roomId: roomMembers.roomId, role: roomMembers.role })
      .from(roomMembers)
      .where(eq(roomMembers.userId, userId));
    // Rooms they left long ago still hold their messages.
    const elsewhere = deleteMessages
      ? await db
          .selectDistinct({ roomId: messages.roomId })
          .from(messages)
          .where(and(eq(messages.senderId, userId), isNull(messages.deletedAt)))
      : [];
    const member = new Set(memberships.map((m) => m.roomId));
    const rooms = [
      ...memberships,
      ...elsewhere.filter((e) => !member.has(e.roomId)).map((e) => ({ roomId: e.roomId, role: null })),
    ];
    await mapBounded(rooms, 4, (r) => eraseInRoom(env, db, userId, r.roomId, r.role, deleteMessages));
    await removeUploads(env, db, userId);
    const exports = await db
      .delete(dataExports)
      .where(eq(dataExports.userId, userId))
      .returning({ key: dataExports.r2Key });
    const keys = exports.flatMap((e) => (e.key ? [e.key] : []));
    if (keys.length) await env.ATTACHMENTS.delete(keys);
    await db.batch([
      db.delete(notifications).where(eq(notifications.userId, userId)),
      db.delete(notificationKeys).where(eq(notificationKeys.userId, userId)),
      db.delete(notificationSettings).where(eq(notificationSettings.userId, userId)),
      db.delete(pushSubscriptions).where(eq(pushSubscriptions.userId, userId)),
      db.delete(pushDevices).where(eq(pushDevices.userId, userId)),
      db.delete(userBlocks).where(or(eq(userBlocks.blockerId, userId), eq(userBlocks.blockedId, userId))),
      db.delete(sessions).where(eq(sessions.userId, userId)),
      db
        .update(users)
        .set({
          email: `deleted-${userId}@deleted.invalid`,
          displayName: DELETED_NAME,
          passwordHash: UNUSABLE_PASSWORD,
          isAdmin: false,
          updatedAt: sql`now()`,
        })
        .where(eq(users.id, userId)),
      db.execute(sql`select edgechat_integration_event('user.deleted', null,
        jsonb_build_object('userId', ${userId}::text, 'policy', ${record.policy}::text))`),
      db
        .update(accountDeletions)
        .set({ state: "done", completedAt: sql`now()`, error: null })
        .where(eq(accountDeletions.userId, userId)),
    ]);
    if (redisConfigured(env)) {
      await withRedis(env, (r) => r.del(`ratelimit:user:${userId}`)).catch(() => undefined);
    }
    logJson("info", { msg: "account deleted", userId, policy: record.policy, rooms: rooms.length });
  } catch (err) {
    await db
      .update(accountDeletions)
      .set({ error: (err as Error).message.slice(0, 500) })
      .where(eq(accountDeletions.userId, userId))
      .catch(() => undefined);
    throw err;
  }
}

async function eraseInRoom(
  env: Bindings,
  db: Db,
  userId: string,
  roomId: string,
  role: "owner" | "admin" | "member" | null,
  deleteMessages: boolean,
): Promise<void> {
  const stub = roomStub(env, roomId);
  // Postgres must have every reaction the room took before the list is read from it.
  await stub.drainOutbox();
  const reactions = await db
    .select({ seq: messageReactions.seq, emoji: messageReactions.emoji })
    .from(messageReactions)
    .where(and(eq(messageReactions.roomId, roomId), eq(messageReactions.userId, userId)));
  const actor: Actor = { roomId, userId, role: "admin" };
  // Anonymising keeps what they wrote and how they reacted; deleting takes both.
  const result = await stub.command(actor, {
    type: "erase",
    userId,
    messages: deleteMessages,
    reactions: deleteMessages ? reactions : [],
  });
  if (result.status === "rejected") throw new Error(`room ${roomId} refused erase: ${result.message}`);
  if (role === null) return;
  const changes: Parameters<typeof recordInRoom>[2] = [];
  if (role === "owner") {
    const [heir] = await db
      .select({ userId: roomMembers.userId })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, roomId), ne(roomMembers.userId, userId)))
      .orderBy(asc(roomMembers.role), asc(roomMembers.joinedAt))
      .limit(1);
    if (heir) {
      await db
        .update(roomMembers)
        .set({ role: "owner" })
        .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, heir.userId)));
      await stub.memberChanged(heir.userId, "owner");
      changes.push({ type: "member", change: "role", userId: heir.userId, role: "owner" });
    }
  }
  // Issue 24: the room vouches for members at upgrade; it must hear of the removal before Postgres does.
  await revokingInRoom(env, roomId, userId);
  await db.delete(roomMembers).where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)));
  changes.push({ type: "member", change: "left", userId, announce: false });
  await recordInRoom(env, actor, changes);
  await roomRemovedFor(env, roomId, userId, "left");
}

/** Their files leave R2 now (not at the next sweep); the rows stay as purged tombstones. */
async function removeUploads(env: Bindings, db: Db, userId: string): Promise<void> {
  for (;;) {
    const rows = await db
      .select({ id: attachments.id, key: attachments.r2Key })
      .from(attachments)
      .where(and(eq(attachments.uploaderId, userId), isNull(attachments.purgedAt), gt(attachments.size, -1)))
      .limit(500);
    if (rows.length === 0) return;
    await env.ATTACHMENTS.delete(rows.map((r) => r.key));
    await db
      .update(attachments)
      .set({ state: "deleted", deletedAt: sql`coalesce(${attachments.deletedAt}, now())`, purgedAt: sql`now()` })
      .where(
        inArray(
          attachments.id,
          rows.map((r) => r.id),
        ),
      );
  }
}
