import { and, asc, desc, eq, gt, isNull, ne, or, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { messageStateColumns, toMessageState } from "../../db/message-view";
import { userBlocks } from "../../db/moderation-schema";
import { messages, roomMembers, rooms, users } from "../../db/schema";
import { createSnapshotDb } from "../../db/snapshot";
import { AppError } from "../../protocol/errors";
import { messagePath } from "../../protocol/params";
import { searchReply, threadReply } from "../../protocol/responses/messages";
import { usersReply } from "../../protocol/responses/rooms";
import { searchQuery, threadQuery, userSearchQuery } from "../../protocol/rooms";
import { requireUser } from "../middleware/auth";
import { membership } from "../room-access";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const searchRoutes = new Hono<AppEnv>();
searchRoutes.use("/api/search", requireUser);
searchRoutes.use("/api/users", requireUser);

/**
 * People search for starting chats: display-name prefix (any case) or an exact email. Answers ids and
 * names only, never emails, so it cannot be used to harvest addresses.
 */
const findUsers = defineRoute({
  method: "get",
  path: "/api/users",
  summary: "Find people by display-name prefix or exact email (ids and names only)",
  tag: "search",
  query: userSearchQuery,
  responses: { 200: { description: "People", schema: usersReply } },
});
handle(searchRoutes, findUsers, async (c, { query: q }) => {
  const me = c.get("userId");
  const prefix = `${q.q.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const rows = await createDb(c.env)
    .select({ id: users.id, displayName: users.displayName, kind: users.kind })
    .from(users)
    .where(
      and(
        ne(users.id, me),
        isNull(users.bannedAt),
        or(sql`lower(${users.displayName}) like ${prefix}`, sql`lower(${users.email}) = ${q.q.toLowerCase()}`),
      ),
    )
    .orderBy(asc(users.displayName), asc(users.id))
    .limit(q.limit);
  return c.json({ users: rows });
});
searchRoutes.use("/api/messages/*", requireUser);

/**
 * Full-text search over the rooms I belong to, newest first, keyset-paginated. Snippets are HTML-safe:
 * the body is escaped before `<mark>` tags are put around the matches.
 */
const search = defineRoute({
  method: "get",
  path: "/api/search",
  summary: "Full-text search over my rooms",
  tag: "search",
  query: searchQuery,
  responses: { 200: { description: "Matches, newest first", schema: searchReply } },
});
handle(searchRoutes, search, async (c, { query: q }) => {
  const me = c.get("userId");
  if (q.roomId) await membership(c, q.roomId);
  const after = decodeSearchCursor(q.cursor);
  const query = sql`websearch_to_tsquery('simple', ${q.q})`;
  const escaped = sql`replace(replace(replace(${messages.body}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')`;
  const rows = await createDb(c.env)
    .select({
      message: messages,
      ...messageStateColumns(me),
      snippet: sql<string>`ts_headline('simple', ${escaped}, ${query}, 'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=24, MinWords=8')`,
    })
    .from(messages)
    .innerJoin(roomMembers, and(eq(roomMembers.roomId, messages.roomId), eq(roomMembers.userId, me)))
    .where(
      and(
        sql`to_tsvector('simple', ${messages.body}) @@ ${query}`,
        isNull(messages.deletedAt),
        // Nothing by people I block.
        sql`not exists (select 1 from ${userBlocks} where ${userBlocks.blockerId} = ${me}::uuid
              and ${userBlocks.blockedId} = ${messages.senderId})`,
        q.roomId ? eq(messages.roomId, q.roomId) : undefined,
        after
          ? sql`(${messages.createdAt}, ${messages.roomId}, ${messages.seq}) < (${after.at}::timestamptz, ${after.roomId}::uuid, ${after.seq})`
          : undefined,
      ),
    )
    .orderBy(desc(messages.createdAt), desc(messages.roomId), desc(messages.seq))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1]?.message;
  return c.json({
    results: page.map(({ message, snippet, ...agg }) => ({ message: toMessageState(message, agg), snippet })),
    nextCursor:
      rows.length > q.limit && last
        ? btoa(`${last.createdAt.toISOString()}|${last.roomId}|${last.seq}`).replaceAll("=", "")
        : null,
  });
});

/** A message and its replies, oldest first. */
const thread = defineRoute({
  method: "get",
  path: "/api/messages/:roomId/:seq/thread",
  summary: "A message and its replies",
  tag: "messages",
  member: "roomId",
  params: messagePath,
  paramsError: "No such message",
  query: threadQuery,
  responses: {
    200: {
      description: "The message and its replies, oldest first, and the version they reflect",
      schema: threadReply,
    },
  },
});
handle(searchRoutes, thread, async (c, { member: { room, actor }, params: { seq }, query: q }) => {
  const db = createSnapshotDb(c.env);
  const state = messageStateColumns(actor.userId);
  const [found, [root], replies] = await db.batch([
    db.select({ version: rooms.version }).from(rooms).where(eq(rooms.id, room.id)),
    db
      .select({ message: messages, ...state })
      .from(messages)
      .where(and(eq(messages.roomId, room.id), eq(messages.seq, seq)))
      .limit(1),
    db
      .select({ message: messages, ...state })
      .from(messages)
      .where(
        and(
          eq(messages.roomId, room.id),
          eq(messages.replyTo, seq),
          q.after !== undefined ? gt(messages.seq, q.after) : undefined,
        ),
      )
      .orderBy(asc(messages.seq))
      .limit(q.limit),
  ]);
  const [current] = found;
  if (!root || !current) throw new AppError(404, "not_found", "No such message");
  const last = replies[replies.length - 1];
  return c.json({
    root: toMessageState(root.message, root),
    replies: replies.map((r) => toMessageState(r.message, r)),
    nextAfter: replies.length === q.limit && last ? last.message.seq : null,
    version: current.version,
  });
});

function decodeSearchCursor(cursor: string | undefined): { at: string; roomId: string; seq: number } | null {
  if (!cursor) return null;
  try {
    const [at, roomId, seq] = atob(cursor).split("|");
    if (!at || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/i.test(roomId ?? "") || !/^\d+$/.test(seq ?? ""))
      throw new Error("bad");
    return { at, roomId: roomId as string, seq: Number(seq) };
  } catch {
    throw new AppError(400, "validation_failed", "Invalid cursor", {
      details: [{ field: "cursor", message: "not a cursor from this API" }],
    });
  }
}
