import { and, asc, eq, ne } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { createDb } from "../../db/client";
import { roomMembers, users } from "../../db/schema";
import { logJson } from "../../lib/log";
import { AppError } from "../../protocol/errors";
import { idPath, uuidParam } from "../../protocol/params";
import { invitedReply, membersReply } from "../../protocol/responses/rooms";
import { inviteBody } from "../../protocol/rooms";
import { applyBlocksForNewMember } from "../blocks";
import { roomAddedFor, roomRemovedFor } from "../inbox";
import { requireUser } from "../middleware/auth";
import { ROLE_RANK, requireRole } from "../room-access";
import { recordInRoom } from "../room-log";
import { revokingInRoom } from "../room-membership";
import { roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";
import { activeBan } from "./moderation";

export const memberRoutes = new Hono<AppEnv>();
memberRoutes.use("/api/rooms/*", requireUser);

const listMembers = defineRoute({
  method: "get",
  path: "/api/rooms/:id/members",
  summary: "Members and roles",
  tag: "members",
  member: "id",
  params: idPath,
  responses: { 200: { description: "Members, longest-standing first", schema: membersReply } },
});
handle(memberRoutes, listMembers, async (c, { member: { room } }) => {
  const rows = await createDb(c.env)
    .select({
      userId: users.id,
      displayName: users.displayName,
      kind: users.kind,
      role: roomMembers.role,
      joinedAt: roomMembers.joinedAt,
      lastReadSeq: roomMembers.lastReadSeq,
    })
    .from(roomMembers)
    .innerJoin(users, eq(users.id, roomMembers.userId))
    .where(eq(roomMembers.roomId, room.id))
    .orderBy(asc(roomMembers.joinedAt), asc(users.id));
  return c.json({ members: rows.map((m) => ({ ...m, joinedAt: m.joinedAt.toISOString() })) });
});

const invite = defineRoute({
  method: "post",
  path: "/api/rooms/:id/members",
  summary: "Invite a member",
  tag: "members",
  member: "id",
  params: idPath,
  body: inviteBody,
  responses: { 201: { description: "The new member", schema: invitedReply } },
});
handle(memberRoutes, invite, async (c, { member: { room, role, actor }, body }) => {
  if (room.kind === "direct") throw new AppError(409, "conflict", "Direct rooms have exactly two members");
  requireRole(role, "admin", "invite members");
  const newRole = body.role ?? "member";
  if (newRole === "admin") requireRole(role, "owner", "make admins");
  const db = createDb(c.env);
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.id, body.userId)).limit(1);
  if (!user)
    throw new AppError(422, "unprocessable", "No such user", {
      details: [{ field: "userId", message: "unknown user id" }],
    });
  if (await activeBan(db, room.id, body.userId))
    throw new AppError(403, "banned", "This user is banned from the room; lift the ban first");
  const added = await db
    .insert(roomMembers)
    .values({ roomId: room.id, userId: body.userId, role: newRole })
    .onConflictDoNothing()
    .returning({ role: roomMembers.role });
  // Recorded on the conflict path too: a retry after a failed record completes it (the room dedupes).
  await recordInRoom(c.env, actor, [{ type: "member", change: "joined", userId: body.userId, role: newRole }]);
  await applyBlocksForNewMember(c.env, room, body.userId);
  if (added.length === 0) throw new AppError(409, "conflict", "Already a member");
  await roomAddedFor(c.env, room.id, [body.userId]); // inbox hook (issue 25)
  return c.json({ member: { userId: body.userId, role: newRole } }, 201);
});

/** Owners remove anyone but themselves; admins remove members. Their open sockets close with 4003. */
const removeMember = defineRoute({
  method: "delete",
  path: "/api/rooms/:id/members/:userId",
  summary: "Remove a member",
  tag: "members",
  member: "id",
  // The target's id is checked after the caller's role, so a plain member is refused the same way for any id.
  params: z.object({ id: uuidParam, userId: z.string().meta({ format: "uuid" }) }),
  responses: { 204: { description: "Removed; their sockets in the room closed with 4003" } },
});
handle(memberRoutes, removeMember, async (c, { member: { room, role, actor }, params: { userId: target } }) => {
  const me = c.get("userId");
  if (target === me) throw new AppError(409, "conflict", "Use POST /api/rooms/:id/leave to leave a room");
  requireRole(role, "admin", "remove members");
  const db = createDb(c.env);
  const [victim] = /^[0-9a-f-]{36}$/i.test(target)
    ? await db
        .select({ role: roomMembers.role })
        .from(roomMembers)
        .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, target)))
        .limit(1)
    : [];
  if (!victim) throw new AppError(404, "not_found", "Not a member of this room");
  if (ROLE_RANK[victim.role] >= ROLE_RANK[role])
    throw new AppError(403, "forbidden", `A room ${role} cannot remove a ${victim.role}`);
  await revokingInRoom(c.env, room.id, target); // issue 24: the room stops vouching for them first
  await db.delete(roomMembers).where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, target)));
  await disconnect(c.env, room.id, target);
  await recordInRoom(c.env, actor, [{ type: "member", change: "removed", userId: target }]);
  await roomRemovedFor(c.env, room.id, target, "removed"); // inbox hook (issue 25)
  return c.body(null, 204);
});

/** Leaving: an owner hands the room to the longest-standing admin, else member; direct rooms cannot be left. */
const leave = defineRoute({
  method: "post",
  path: "/api/rooms/:id/leave",
  summary: "Leave a room",
  tag: "rooms",
  member: "id",
  params: idPath,
  responses: { 204: { description: "Left" } },
});
handle(memberRoutes, leave, async (c, { member: { room, role, actor } }) => {
  const me = c.get("userId");
  if (room.kind === "direct") throw new AppError(409, "conflict", "Direct rooms cannot be left");
  const db = createDb(c.env);
  const changes: Parameters<typeof recordInRoom>[2] = [];
  if (role === "owner") {
    const [heir] = await db
      .select({ userId: roomMembers.userId, role: roomMembers.role })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), ne(roomMembers.userId, me)))
      .orderBy(asc(roomMembers.role), asc(roomMembers.joinedAt))
      .limit(1);
    if (heir) {
      await db
        .update(roomMembers)
        .set({ role: "owner" })
        .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, heir.userId)));
      await roomStub(c.env, room.id).memberChanged(heir.userId, "owner");
      changes.push({ type: "member", change: "role", userId: heir.userId, role: "owner" });
    }
  }
  await revokingInRoom(c.env, room.id, me); // issue 24: the room stops vouching for them first
  await db.delete(roomMembers).where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, me)));
  await disconnect(c.env, room.id, me);
  changes.push({ type: "member", change: "left", userId: me });
  await recordInRoom(c.env, actor, changes);
  await roomRemovedFor(c.env, room.id, me, "left"); // inbox hook (issue 25): every device of mine drops it
  return c.body(null, 204);
});

async function disconnect(env: Bindings, roomId: string, userId: string): Promise<void> {
  await roomStub(env, roomId)
    .disconnectUser(userId, "removed")
    .catch((err: Error) => logJson("warn", { msg: "disconnect after removal failed", roomId, error: err.message }));
}
