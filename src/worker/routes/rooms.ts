import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { userBlocks } from "../../db/moderation-schema";
import { messages, type Room, roomMembers, rooms, type UserKind, users } from "../../db/schema";
import { createSnapshotDb } from "../../db/snapshot";
import { AppError } from "../../protocol/errors";
import type { Role } from "../../protocol/identity";
import { idPath } from "../../protocol/params";
import { roomDetailReply, roomListReply, roomReply } from "../../protocol/responses/rooms";
import { createRoomBody, directRoomBody, pageQuery, updateRoomBody } from "../../protocol/rooms";
import { applyBlocksForNewMember, blockBetween } from "../blocks";
import { decodeCursor, encodeCursor } from "../cursor";
import { roomAddedFor } from "../inbox";
import { requireUser } from "../middleware/auth";
import { notFound, requireRole } from "../room-access";
import { recordInRoom } from "../room-log";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";
import { activeBan } from "./moderation";

export const roomRoutes = new Hono<AppEnv>();
roomRoutes.use("/api/rooms", requireUser);
roomRoutes.use("/api/rooms/*", requireUser);

/** The other person of a direct room (null for group rooms, and once they are gone). */
export type Peer = { id: string; displayName: string; kind: UserKind } | null;

export function roomView(room: Room, role: Role, peer: Peer = null) {
  return {
    id: room.id,
    kind: room.kind,
    name: room.name,
    topic: room.topic,
    isPublic: room.isPublic,
    lastSeq: room.lastSeq,
    lastMessageAt: room.lastMessageAt?.toISOString() ?? null,
    createdAt: room.createdAt.toISOString(),
    role,
    custom: room.custom ?? null,
    slowModeSeconds: room.slowModeSeconds,
    peer: room.kind === "direct" ? peer : null,
  };
}

/**
 * A direct room's other member as `{id, displayName, kind}` JSON, for `me` (one index lookup per room). The outer
 * room is named in full: drizzle leaves columns of a one-table select unqualified, and an unqualified `id`
 * here would be the user's.
 */
function peerOf(me: string) {
  return sql<Peer>`(select json_build_object('id', pu.id, 'displayName', pu.display_name, 'kind', pu.kind)
    from room_members pm join users pu on pu.id = pm.user_id
    where "rooms"."kind" = 'direct' and pm.room_id = "rooms"."id" and pm.user_id <> ${me}::uuid limit 1)`;
}

const createRoom = defineRoute({
  method: "post",
  path: "/api/rooms",
  summary: "Create a group room",
  tag: "rooms",
  body: createRoomBody,
  responses: { 201: { description: "The room", schema: roomReply } },
});
handle(roomRoutes, createRoom, async (c, { body }) => {
  const me = c.get("userId");
  const db = createDb(c.env);
  const invited = [...new Set(body.members ?? [])].filter((id) => id !== me);
  if (invited.length > 0) {
    const found = await db.select({ id: users.id }).from(users).where(inArray(users.id, invited));
    if (found.length !== invited.length) {
      throw new AppError(422, "unprocessable", "Some members do not exist", {
        details: [{ field: "members", message: "unknown user id" }],
      });
    }
  }
  const id = crypto.randomUUID();
  const [room] = await db.batch([
    db
      .insert(rooms)
      .values({
        id,
        kind: "group",
        name: body.name,
        topic: body.topic ?? null,
        isPublic: body.isPublic ?? false,
        custom: body.custom ?? null,
        createdBy: me,
      })
      .returning(),
    db
      .insert(roomMembers)
      .values([
        { roomId: id, userId: me, role: "owner" as const },
        ...invited.map((userId) => ({ roomId: id, userId, role: "member" as const })),
      ]),
  ]);
  // The first members are the room's starting state, not news: recorded without system messages.
  await recordInRoom(c.env, { roomId: id, userId: me, role: "owner", requestId: c.get("requestId") }, [
    { type: "member", change: "joined", userId: me, role: "owner", announce: false },
    ...invited.map((userId) => ({ type: "member" as const, change: "joined" as const, userId, announce: false })),
  ]);
  if (invited.length > 0) await applyBlocksForNewMember(c.env, room[0] as Room);
  await roomAddedFor(c.env, id, [me, ...invited]); // inbox hook (issue 25)
  return c.json({ room: roomView(room[0] as Room, "owner") }, 201);
});

/** The one room of a pair: a deterministic key with a unique constraint makes concurrent requests converge. */
const directRoom = defineRoute({
  method: "post",
  path: "/api/rooms/direct",
  summary: "The one direct room with a user",
  tag: "rooms",
  body: directRoomBody,
  responses: {
    200: { description: "The room, which existed", schema: roomReply },
    201: { description: "The room, created now", schema: roomReply },
  },
});
handle(roomRoutes, directRoom, async (c, { body: { userId: other } }) => {
  const me = c.get("userId");
  if (other === me)
    throw new AppError(422, "unprocessable", "A direct room needs another user", {
      details: [{ field: "userId", message: "is you" }],
    });
  const db = createDb(c.env);
  const [peer] = await db
    .select({ id: users.id, displayName: users.displayName, kind: users.kind })
    .from(users)
    .where(eq(users.id, other))
    .limit(1);
  if (!peer) throw new AppError(404, "not_found", "User not found");
  if (await blockBetween(c.env, me, other)) throw new AppError(403, "blocked", "You can't message this person");
  const directKey = [me, other].sort().join(":");
  const [created] = await db
    .insert(rooms)
    .values({ kind: "direct", directKey, createdBy: me })
    .onConflictDoNothing()
    .returning();
  const [room] = created ? [created] : await db.select().from(rooms).where(eq(rooms.directKey, directKey)).limit(1);
  if (!room) throw new AppError(500, "internal", "Direct room vanished");
  await db
    .insert(roomMembers)
    .values([
      { roomId: room.id, userId: me, role: "member" as const },
      { roomId: room.id, userId: other, role: "member" as const },
    ])
    .onConflictDoNothing();
  await recordInRoom(c.env, { roomId: room.id, userId: me, role: "member", requestId: c.get("requestId") }, [
    { type: "member", change: "joined", userId: me, announce: false },
    { type: "member", change: "joined", userId: other, announce: false },
  ]);
  if (created) await roomAddedFor(c.env, room.id, [me, other]); // inbox hook (issue 25)
  return c.json({ room: roomView(room, "member", peer) }, created ? 201 : 200);
});

/** My rooms, newest activity first, with the last message and my unread count (others' messages after my read mark); keyset-paginated. */
const listRooms = defineRoute({
  method: "get",
  path: "/api/rooms",
  summary: "My rooms, newest activity first",
  tag: "rooms",
  query: pageQuery,
  responses: { 200: { description: "Rooms and the next cursor", schema: roomListReply } },
});
handle(roomRoutes, listRooms, async (c, { query: { cursor, limit } }) => {
  const me = c.get("userId");
  const activity = sql<Date>`coalesce(${rooms.lastMessageAt}, ${rooms.createdAt})`;
  const after = decodeCursor(cursor);
  const rows = await createDb(c.env)
    .select({
      room: rooms,
      role: roomMembers.role,
      lastReadSeq: roomMembers.lastReadSeq,
      // Unread is arithmetic on seqs: what came after my read mark, less what I sent myself (one index
      // range scan on messages_room_sender_client_msg_key's leading columns, never a counter to drift).
      mineAfterMark: sql<number>`(select count(*)::int from ${messages} as mine
        where mine.room_id = ${rooms.id} and mine.sender_id = ${me} and mine.seq > ${roomMembers.lastReadSeq})`,
      activity: sql<string>`to_char(${activity} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      peer: peerOf(me),
      last: {
        seq: messages.seq,
        senderId: messages.senderId,
        // A preview of someone I block says nothing.
        body: sql<
          string | null
        >`case when exists (select 1 from ${userBlocks} where ${userBlocks.blockerId} = ${me}::uuid
          and ${userBlocks.blockedId} = ${messages.senderId}) then null else ${messages.body} end`,
        createdAt: messages.createdAt,
        deletedAt: messages.deletedAt,
      },
    })
    .from(roomMembers)
    .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
    .leftJoin(messages, and(eq(messages.roomId, rooms.id), eq(messages.seq, rooms.lastSeq)))
    .where(
      and(
        eq(roomMembers.userId, me),
        after ? sql`(${activity}, ${rooms.id}) < (${after.at}::timestamptz, ${after.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(activity), desc(rooms.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const tail = page[page.length - 1];
  return c.json({
    rooms: page.map((r) => ({
      ...roomView(r.room, r.role, r.peer),
      unread: Math.max(0, r.room.lastSeq - r.lastReadSeq - r.mineAfterMark),
      lastMessage:
        r.last?.seq == null
          ? null
          : {
              seq: r.last.seq,
              senderId: r.last.senderId,
              body: r.last.deletedAt ? null : r.last.body,
              createdAt: r.last.createdAt?.toISOString() ?? null,
            },
    })),
    nextCursor: rows.length > limit && tail ? encodeCursor(tail.activity, tail.room.id) : null,
  });
});

/**
 * A room with every member's read mark (so receipts render after a reload) and the version they reflect:
 * room and read marks are read in one snapshot, so catching up from `version` continues exactly from them.
 */
const getRoom = defineRoute({
  method: "get",
  path: "/api/rooms/:id",
  summary: "A room, its members' read marks and the version they reflect",
  tag: "rooms",
  member: "id",
  params: idPath,
  responses: { 200: { description: "The room, its read marks and its version", schema: roomDetailReply } },
});
handle(roomRoutes, getRoom, async (c, { member: { room, role } }) => {
  const db = createSnapshotDb(c.env);
  const [[current], marks] = await db.batch([
    db
      .select({ room: rooms, peer: peerOf(c.get("userId")) })
      .from(rooms)
      .where(eq(rooms.id, room.id)),
    db
      .select({ userId: roomMembers.userId, seq: roomMembers.lastReadSeq })
      .from(roomMembers)
      .where(eq(roomMembers.roomId, room.id))
      .orderBy(asc(roomMembers.joinedAt), asc(roomMembers.userId)),
  ]);
  if (!current) throw notFound(); // deleted since the membership check
  return c.json({
    room: {
      ...roomView(current.room, role, current.peer),
      memberCount: marks.length,
      version: current.room.version,
      readMarks: marks,
    },
  });
});

const updateRoom = defineRoute({
  method: "patch",
  path: "/api/rooms/:id",
  summary: "Rename a room, change topic or visibility (admins)",
  tag: "rooms",
  member: "id",
  params: idPath,
  body: updateRoomBody,
  responses: { 200: { description: "The room", schema: roomReply } },
});
handle(roomRoutes, updateRoom, async (c, { member: { room, role, actor }, body }) => {
  if (room.kind === "direct") throw new AppError(409, "conflict", "Direct rooms have no name, topic or visibility");
  requireRole(role, "admin", "change the room");
  const [updated] = await createDb(c.env)
    .update(rooms)
    .set({
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.topic !== undefined ? { topic: body.topic } : {}),
      ...(body.isPublic !== undefined ? { isPublic: body.isPublic } : {}),
      ...(body.custom !== undefined ? { custom: body.custom } : {}),
      ...(body.slowModeSeconds !== undefined ? { slowModeSeconds: body.slowModeSeconds } : {}),
    })
    .where(eq(rooms.id, room.id))
    .returning();
  // The room records only what differs from what it last recorded, so a retry after a failed record
  // still reaches it while a repeated PATCH is no news.
  const { name, topic, isPublic, custom, slowModeSeconds } = body;
  await recordInRoom(c.env, actor, [{ type: "room", name, topic, isPublic, custom, slowModeSeconds }]);
  return c.json({ room: roomView(updated as Room, role) });
});

/** Public group rooms only; for anything else the answer is the same 404 a missing room gets. */
const joinRoom = defineRoute({
  method: "post",
  path: "/api/rooms/:id/join",
  summary: "Join a public room",
  tag: "rooms",
  params: idPath,
  paramsError: "Room not found",
  responses: {
    200: { description: "The room, which I was in already", schema: roomReply },
    201: { description: "The room, joined now", schema: roomReply },
  },
});
handle(roomRoutes, joinRoom, async (c, { params: { id: roomId } }) => {
  const me = c.get("userId");
  const db = createDb(c.env);
  const [room] = await db.select().from(rooms).where(eq(rooms.id, roomId)).limit(1);
  if (!room) throw notFound();
  const [existing] = await db
    .select({ role: roomMembers.role })
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, me)))
    .limit(1);
  if (existing) {
    const [peer] =
      room.kind === "direct"
        ? await db
            .select({ peer: peerOf(me) })
            .from(rooms)
            .where(eq(rooms.id, room.id))
        : [{ peer: null }];
    return c.json({ room: roomView(room, existing.role, peer?.peer ?? null) });
  }
  if (!room.isPublic || room.kind !== "group") throw notFound();
  if (await activeBan(db, room.id, me)) throw new AppError(403, "banned", "You are banned from this room");
  await db.insert(roomMembers).values({ roomId: room.id, userId: me, role: "member" }).onConflictDoNothing();
  await recordInRoom(c.env, { roomId: room.id, userId: me, role: "member", requestId: c.get("requestId") }, [
    { type: "member", change: "joined", userId: me },
  ]);
  await applyBlocksForNewMember(c.env, room, me);
  await roomAddedFor(c.env, room.id, [me]); // inbox hook (issue 25)
  return c.json({ room: roomView(room, "member") }, 201);
});
