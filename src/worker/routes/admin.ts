/**
 * Operators' API: deployment figures, room inspection, dead letters, bans, room deletion. Every route
 * is behind requireAdmin, which makes it look absent (404) to anyone else.
 */

import { and, count, desc, eq, gt, isNull, type SQL, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { deadLetters, queueFailures } from "../../db/notification-schema";
import { messages, refreshTokens, roomMembers, rooms, users } from "../../db/schema";
import { bannedKey } from "../../db/sessions";
import { positiveSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import { redisConfigured, withRedis } from "../../lib/redis";
import { banBody, deadLettersQuery, userLookupQuery } from "../../protocol/admin";
import { AppError } from "../../protocol/errors";
import { idPath } from "../../protocol/params";
import {
  adminRoom,
  adminStats,
  adminUserDetail,
  adminUserReply,
  deadLettersReply,
} from "../../protocol/responses/admin";
import { isAdmin } from "../admin/access";
import { activeRoomIds, fleetFigures, roomFigures, STATS_ROOMS } from "../admin/room-figures";
import { deleteRoomFiles } from "../attachments/sweep";
import { decodeCursor, encodeCursor } from "../cursor";
import { openApiDocument } from "../openapi";
import { disconnectEverywhere, roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

// Every route here is declared with auth "admin": requireAdmin answers anyone else exactly as an
// unknown path is answered.
export const adminRoutes = new Hono<AppEnv>();

const adminDocument = defineRoute({
  method: "get",
  path: "/api/admin/openapi.json",
  summary: "This document",
  tag: "admin",
  auth: "admin",
  responses: { 200: { description: "OpenAPI 3.1 document of the admin routes", contentType: "application/json" } },
});
handle(adminRoutes, adminDocument, (c) => c.json(openApiDocument("admin")));

const stats = defineRoute({
  method: "get",
  path: "/api/admin/stats",
  summary: "Users, rooms, messages per hour (24 h), live sockets in recently active rooms",
  tag: "admin",
  auth: "admin",
  responses: { 200: { description: "Figures", schema: adminStats } },
});
handle(adminRoutes, stats, async (c) => {
  const db = createDb(c.env);
  const [[totals], perHour, active] = await db.batch([
    db
      .select({
        users: sql<number>`(select count(*)::int from ${users})`,
        rooms: sql<number>`(select count(*)::int from ${rooms})`,
        banned: sql<number>`(select count(*)::int from ${users} where ${users.bannedAt} is not null)`,
        deadLetters: sql<number>`(select count(*)::int from ${deadLetters})`,
      })
      .from(sql`(select 1) as one`),
    db
      .select({
        hour: sql<string>`to_char(date_trunc('hour', ${messages.createdAt}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"')`,
        messages: count(),
      })
      .from(messages)
      .where(gt(messages.createdAt, sql`now() - interval '24 hours'`))
      .groupBy(sql`1`)
      .orderBy(sql`1`),
    activeRoomIds(db),
  ]);
  if (!totals) throw new Error("The totals query answered no row");
  const sampled = active.slice(0, STATS_ROOMS).map((r) => r.id);
  const { sockets, unreachable } = await fleetFigures(c.env, sampled);
  const live = { sockets, unreachable };
  return c.json({
    ...totals,
    messagesPerHour: perHour,
    live: { ...live, roomsAsked: sampled.length, truncated: active.length > STATS_ROOMS },
  });
});

const ROOM_NOT_FOUND = "Room not found";
const USER_NOT_FOUND = "User not found";

const inspectRoom = defineRoute({
  method: "get",
  path: "/api/admin/rooms/:id",
  summary: "A room: live sockets, last seq, outbox depth and oldest age, Redis buffer, throttle hits",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: ROOM_NOT_FOUND,
  responses: { 200: { description: "Room figures", schema: adminRoom } },
});
handle(adminRoutes, inspectRoom, async (c, { params }) => {
  const id = params.id.toLowerCase();
  const db = createDb(c.env);
  const [room] = await db
    .select({
      room: rooms,
      members: sql<number>`(select count(*)::int from ${roomMembers} where ${roomMembers.roomId} = ${rooms.id})`,
    })
    .from(rooms)
    .where(eq(rooms.id, id))
    .limit(1);
  if (!room) throw new AppError(404, "not_found", "Room not found");
  const figures = await roomFigures(c.env, id);
  return c.json({
    room: { ...room.room, members: room.members },
    live: figures && {
      sockets: figures.sockets,
      online: figures.online,
      lastSeq: figures.lastSeq,
      outbox: {
        ...figures.outbox,
        oldestAgeMs: figures.outbox.oldestAt === null ? null : Date.now() - figures.outbox.oldestAt,
      },
      buffer: figures.buffer,
      throttleHits: figures.throttleHits,
    },
    // Postgres behind the room (write-through still catching up) shows as a gap here.
    postgresLastSeq: room.room.lastSeq,
  });
});

const deleteRoom = defineRoute({
  method: "delete",
  path: "/api/admin/rooms/:id",
  summary: "Delete a room",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: ROOM_NOT_FOUND,
  responses: { 204: { description: "Deleted, with its files; its sockets closed" } },
});
handle(adminRoutes, deleteRoom, async (c, { params }) => {
  const id = params.id.toLowerCase();
  const [deleted] = await createDb(c.env).delete(rooms).where(eq(rooms.id, id)).returning({ id: rooms.id });
  if (!deleted) throw new AppError(404, "not_found", "Room not found");
  // Files before the object: once the row is gone a retry answers 404, so nothing after this point may
  // be left for a retry to finish. An unreachable object is logged; its sockets lose their room anyway.
  const files = await deleteRoomFiles(c.env, id);
  const closed = await roomStub(c.env, id)
    .destroy()
    .catch((err: Error) => {
      logJson("error", { msg: "room object not destroyed", roomId: id, error: err.message });
      return null;
    });
  if (redisConfigured(c.env)) {
    await withRedis(c.env, (r) => r.del(`room:${id}:recent`)).catch((err: Error) =>
      logJson("warn", { msg: "room buffer not removed", roomId: id, error: err.message }),
    );
  }
  logJson("info", { msg: "room deleted by admin", roomId: id, admin: c.get("userId"), socketsClosed: closed, files });
  return c.body(null, 204);
});

function userView(env: Bindings, u: typeof users.$inferSelect) {
  return {
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    kind: u.kind,
    admin: isAdmin(env, u),
    bannedAt: u.bannedAt?.toISOString() ?? null,
    banReason: u.banReason,
    createdAt: u.createdAt.toISOString(),
  };
}

async function userDetail(env: Bindings, where: SQL | undefined) {
  const db = createDb(env);
  const [user] = await db.select().from(users).where(where).limit(1);
  if (!user) throw new AppError(404, "not_found", "User not found");
  const memberships = await db
    .select({ roomId: roomMembers.roomId, role: roomMembers.role, name: rooms.name, kind: rooms.kind })
    .from(roomMembers)
    .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
    .where(eq(roomMembers.userId, user.id))
    .limit(500);
  return { user: userView(env, user), rooms: memberships };
}

const findUser = defineRoute({
  method: "get",
  path: "/api/admin/users",
  summary: "Find a user by email",
  tag: "admin",
  auth: "admin",
  query: userLookupQuery,
  responses: { 200: { description: "The user and their rooms", schema: adminUserDetail } },
});
handle(adminRoutes, findUser, async (c, { query: { email } }) => {
  return c.json(await userDetail(c.env, sql`lower(${users.email}) = lower(${email})`));
});

const getUser = defineRoute({
  method: "get",
  path: "/api/admin/users/:id",
  summary: "A user and their rooms",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  responses: { 200: { description: "The user and their rooms", schema: adminUserDetail } },
});
handle(adminRoutes, getUser, async (c, { params }) => {
  return c.json(await userDetail(c.env, eq(users.id, params.id.toLowerCase())));
});

const ban = defineRoute({
  method: "post",
  path: "/api/admin/users/:id/ban",
  summary: "Ban: refuse login and tokens, close sockets",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  body: banBody,
  responses: { 200: { description: "The banned user", schema: adminUserReply } },
});
handle(adminRoutes, ban, async (c, { params, body: { reason } }) => {
  const id = params.id.toLowerCase();
  if (id === c.get("userId")) throw new AppError(409, "conflict", "Admins cannot ban themselves");
  const db = createDb(c.env);
  const [[user]] = await db.batch([
    db
      .update(users)
      .set({ bannedAt: sql`coalesce(${users.bannedAt}, now())`, banReason: reason ?? null })
      .where(eq(users.id, id))
      .returning(),
    db
      .update(refreshTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(refreshTokens.userId, id), isNull(refreshTokens.revokedAt))),
  ]);
  if (!user) throw new AppError(404, "not_found", "User not found");
  // Access tokens stay valid until they expire; this marker makes every API call refuse them until then.
  const ttl = positiveSetting(c.env, "ACCESS_TOKEN_TTL_SECONDS") + 60;
  if (redisConfigured(c.env)) {
    await withRedis(c.env, (r) => r.set(bannedKey(id), "1", { ex: ttl })).catch((err: Error) =>
      logJson("error", { msg: "ban marker not set; tokens expire on their own", userId: id, error: err.message }),
    );
  }
  await disconnectEverywhere(c.env, db, id, "banned");
  logJson("info", { msg: "user banned", userId: id, admin: c.get("userId") });
  return c.json({ user: userView(c.env, user) });
});

const unban = defineRoute({
  method: "delete",
  path: "/api/admin/users/:id/ban",
  summary: "Lift a ban",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  responses: { 200: { description: "The user", schema: adminUserReply } },
});
handle(adminRoutes, unban, async (c, { params }) => {
  const id = params.id.toLowerCase();
  const [user] = await createDb(c.env)
    .update(users)
    .set({ bannedAt: null, banReason: null })
    .where(eq(users.id, id))
    .returning();
  if (!user) throw new AppError(404, "not_found", "User not found");
  if (redisConfigured(c.env)) await withRedis(c.env, (r) => r.del(bannedKey(id))).catch(() => undefined);
  logJson("info", { msg: "user unbanned", userId: id, admin: c.get("userId") });
  return c.json({ user: userView(c.env, user) });
});

/** Jobs that will not run again, newest first, and how many are still being retried. */
const listDeadLetters = defineRoute({
  method: "get",
  path: "/api/admin/dead-letters",
  summary: "Jobs that will not run again, newest first, and how many are retrying",
  tag: "admin",
  auth: "admin",
  query: deadLettersQuery,
  responses: { 200: { description: "Dead letters", schema: deadLettersReply } },
});
handle(adminRoutes, listDeadLetters, async (c, { query: q }) => {
  const after = decodeCursor(q.cursor);
  const db = createDb(c.env);
  const [rows, [retrying]] = await db.batch([
    db
      .select({
        row: deadLetters,
        at: sql<string>`to_char(${deadLetters.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      })
      .from(deadLetters)
      .where(
        after
          ? sql`(${deadLetters.createdAt}, ${deadLetters.id}) < (${after.at}::timestamptz, ${after.id}::uuid)`
          : undefined,
      )
      .orderBy(desc(deadLetters.createdAt), desc(deadLetters.id))
      .limit(q.limit + 1),
    db.select({ n: count() }).from(queueFailures),
  ]);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return c.json({
    deadLetters: page.map(({ row, at }) => ({ ...row, createdAt: at })),
    retrying: retrying?.n ?? 0,
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.at, last.row.id) : null,
  });
});
