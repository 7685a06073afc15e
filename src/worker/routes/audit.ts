/** The moderation audit log, for deployment admins: every moderation action, newest first. */
import { and, desc, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { moderationAudit } from "../../db/moderation-schema";
import { auditReply } from "../../protocol/responses/safety";
import { auditQuery } from "../../protocol/safety";
import { decodeCursor, encodeCursor } from "../cursor";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const auditRoutes = new Hono<AppEnv>();

const list = defineRoute({
  method: "get",
  path: "/api/admin/audit",
  summary: "The moderation audit log, newest first (filter by room, action, actor, target)",
  tag: "admin",
  auth: "admin",
  query: auditQuery,
  responses: { 200: { description: "A page of audit entries", schema: auditReply } },
});
handle(auditRoutes, list, async (c, { query: q }) => {
  const after = decodeCursor(q.cursor);
  const a = moderationAudit;
  const rows = await createDb(c.env)
    .select({
      entry: a,
      at: sql<string>`to_char(${a.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(a)
    .where(
      and(
        q.roomId ? eq(a.roomId, q.roomId.toLowerCase()) : undefined,
        q.action ? eq(a.action, q.action) : undefined,
        q.actorId ? eq(a.actorId, q.actorId.toLowerCase()) : undefined,
        q.targetUserId ? eq(a.targetUserId, q.targetUserId.toLowerCase()) : undefined,
        after ? sql`(${a.createdAt}, ${a.id}) < (${after.at}::timestamptz, ${after.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(a.createdAt), desc(a.id))
    .limit(q.limit + 1);
  const shown = rows.slice(0, q.limit);
  const last = shown[shown.length - 1];
  return c.json({
    entries: shown.map(({ entry, at }) => ({ ...entry, createdAt: at })),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.at, last.entry.id) : null,
  });
});
