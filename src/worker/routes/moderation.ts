/**
 * Room moderation by the room's owners and admins: bans (removed, cannot rejoin or be invited, sockets
 * closed at once with 4003) and mutes (read-only), each for a duration or until lifted, and deleting
 * every message of a member. Postgres holds each sanction; the room records it as a change in its log
 * (and enforces mutes from its own SQLite), so both hold across restarts and with Redis down. Every
 * action is written to the moderation audit log.
 */
import { and, asc, eq, gt, isNull, or } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { createDb, type Db } from "../../db/client";
import { moderationAudit, roomSanctions } from "../../db/moderation-schema";
import { roomMembers } from "../../db/schema";
import { AppError } from "../../protocol/errors";
import type { Actor, Role } from "../../protocol/identity";
import { sanctionBody } from "../../protocol/moderation";
import { idPath, uuidParam } from "../../protocol/params";
import { purgedReply, sanctionReply, sanctionsReply } from "../../protocol/responses/moderation";
import type { ChangeResult } from "../../protocol/room-rpc";
import { ROLE_RANK, requireRole } from "../room-access";
import { recordInRoom } from "../room-log";
import { revokingInRoom } from "../room-membership";
import { roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const moderationRoutes = new Hono<AppEnv>();

const targetPath = z.object({ id: uuidParam, userId: uuidParam });
type Sanction = typeof roomSanctions.$inferSelect;

function sanctionView(s: Sanction) {
  return {
    userId: s.userId,
    kind: s.kind,
    until: s.until?.toISOString() ?? null,
    reason: s.reason,
    by: s.by,
    createdAt: s.createdAt.toISOString(),
  };
}

/** A ban in force for this user in this room, if any: the join and invite paths refuse them. */
export async function activeBan(db: Db, roomId: string, userId: string): Promise<Sanction | null> {
  const [ban] = await db
    .select()
    .from(roomSanctions)
    .where(
      and(
        eq(roomSanctions.roomId, roomId),
        eq(roomSanctions.userId, userId),
        eq(roomSanctions.kind, "ban"),
        or(isNull(roomSanctions.until), gt(roomSanctions.until, new Date())),
      ),
    )
    .limit(1);
  return ban ?? null;
}

/**
 * The target's role, refusing what the caller may not do: only owners and admins moderate, never
 * themselves, and never someone of their own rank or above. Non-members may be banned (pre-emptively).
 */
async function checkTarget(db: Db, roomId: string, role: Role, me: string, target: string): Promise<Role | null> {
  requireRole(role, "admin", "moderate members");
  if (target === me) throw new AppError(409, "conflict", "You cannot moderate yourself");
  const [member] = await db
    .select({ role: roomMembers.role })
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, target)))
    .limit(1);
  if (member && ROLE_RANK[member.role] >= ROLE_RANK[role])
    throw new AppError(403, "forbidden", `A room ${role} cannot moderate a ${member.role}`);
  return member?.role ?? null;
}

function audit(db: Db, actor: Actor, action: string, target: string, reason?: string | null, details?: object) {
  return db.insert(moderationAudit).values({
    actorId: actor.userId,
    action,
    roomId: actor.roomId,
    targetUserId: target,
    reason: reason ?? null,
    details: details ? { ...details } : null,
  });
}

for (const kind of ["ban", "mute"] as const) {
  const plural = `${kind}s`;
  const put = defineRoute({
    method: "put",
    path: `/api/rooms/:id/${plural}/:userId`,
    summary: kind === "ban" ? "Ban a member from the room (owners, admins)" : "Mute a member (read-only)",
    tag: "moderation",
    member: "id",
    params: targetPath,
    body: sanctionBody,
    responses: { 200: { description: `The ${kind}`, schema: sanctionReply } },
  });
  handle(moderationRoutes, put, async (c, { member: { room, role, actor }, params: { userId }, body }) => {
    const db = createDb(c.env);
    const present = await checkTarget(db, room.id, role, actor.userId, userId);
    if (kind === "mute" && !present) throw new AppError(404, "not_found", "Not a member of this room");
    if (kind === "ban") await revokingInRoom(c.env, room.id, userId); // issue 24: before Postgres bans
    const until = body.durationSeconds ? new Date(Date.now() + body.durationSeconds * 1000) : null;
    const values = { roomId: room.id, userId, kind, until, reason: body.reason ?? null, by: actor.userId };
    const [row] = await db
      .insert(roomSanctions)
      .values(values)
      .onConflictDoUpdate({
        target: [roomSanctions.roomId, roomSanctions.userId, roomSanctions.kind],
        set: { until, reason: values.reason, by: actor.userId, createdAt: new Date() },
      })
      .returning();
    if (kind === "ban") {
      await db.delete(roomMembers).where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, userId)));
      await roomStub(c.env, room.id).disconnectUser(userId, "room_banned");
    }
    await audit(db, actor, kind, userId, body.reason, { until: until?.toISOString() ?? null });
    await recordInRoom(c.env, actor, [
      {
        type: "member",
        change: kind === "ban" ? "banned" : "muted",
        userId,
        until: until?.toISOString() ?? null,
      },
    ]);
    return c.json({ sanction: sanctionView(row as Sanction) });
  });

  const lift = defineRoute({
    method: "delete",
    path: `/api/rooms/:id/${plural}/:userId`,
    summary: kind === "ban" ? "Lift a ban" : "Lift a mute",
    tag: "moderation",
    member: "id",
    params: targetPath,
    responses: { 204: { description: "Lifted (or there was none)" } },
  });
  handle(moderationRoutes, lift, async (c, { member: { room, role, actor }, params: { userId } }) => {
    requireRole(role, "admin", "moderate members");
    const db = createDb(c.env);
    const gone = await db
      .delete(roomSanctions)
      .where(and(eq(roomSanctions.roomId, room.id), eq(roomSanctions.userId, userId), eq(roomSanctions.kind, kind)))
      .returning({ userId: roomSanctions.userId });
    if (gone.length > 0) await audit(db, actor, `un${kind}`, userId);
    // Recorded even when Postgres had nothing: a retry after a failed record completes it (the room dedupes).
    await recordInRoom(c.env, actor, [{ type: "member", change: kind === "ban" ? "unbanned" : "unmuted", userId }]);
    return c.body(null, 204);
  });
}

const listSanctions = defineRoute({
  method: "get",
  path: "/api/rooms/:id/sanctions",
  summary: "Bans and mutes in force (owners, admins)",
  tag: "moderation",
  member: "id",
  params: idPath,
  responses: { 200: { description: "Bans and mutes, oldest first", schema: sanctionsReply } },
});
handle(moderationRoutes, listSanctions, async (c, { member: { room, role } }) => {
  requireRole(role, "admin", "see bans and mutes");
  const rows = await createDb(c.env)
    .select()
    .from(roomSanctions)
    .where(and(eq(roomSanctions.roomId, room.id), or(isNull(roomSanctions.until), gt(roomSanctions.until, new Date()))))
    .orderBy(asc(roomSanctions.createdAt));
  return c.json({ sanctions: rows.map(sanctionView) });
});

const purge = defineRoute({
  method: "delete",
  path: "/api/rooms/:id/members/:userId/messages",
  summary: "Delete every message of a member (owners, admins)",
  tag: "moderation",
  member: "id",
  params: targetPath,
  responses: { 200: { description: "How many messages were deleted", schema: purgedReply } },
});
handle(moderationRoutes, purge, async (c, { member: { room, role, actor }, params: { userId } }) => {
  const db = createDb(c.env);
  await checkTarget(db, room.id, role, actor.userId, userId);
  const result = (await roomStub(c.env, room.id).command(actor, { type: "purge", userId })) as ChangeResult;
  if (result.status === "rejected") throw new AppError(403, result.code, result.message);
  await audit(db, actor, "purge", userId, null, { deleted: result.count ?? 0 });
  return c.json({ deleted: result.count ?? 0 });
});
