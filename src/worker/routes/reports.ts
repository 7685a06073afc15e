/**
 * Reports: any member reports a message (its sender is the target) or a person in a room, with a reason
 * from a fixed list and optional text. Room owners and admins review their room's reports, deployment
 * admins every room's; each sets a report's state (open, actioned, dismissed), recording who and when.
 *
 * Who sees what: the reporter sees their own report without who handled it; reviewers see the reporter;
 * the reported person never sees a report about them, not even as a room owner or a deployment admin
 * (such reports are left out of their queue and answer 404). Creating and handling a report each write an
 * audit entry in the same transaction.
 */
import { and, desc, eq, exists, ne, or, type SQL, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { Hono } from "hono";
import { z } from "zod";
import { createDb, type Db } from "../../db/client";
import { moderationAudit, reports } from "../../db/moderation-schema";
import { messages, roomMembers, users } from "../../db/schema";
import { AppError } from "../../protocol/errors";
import { idPath, uuidParam } from "../../protocol/params";
import { myReportReply, reportsReply, reviewedReportReply } from "../../protocol/responses/safety";
import { adminReportsQuery, reportBody, reportPatchBody, reportsQuery } from "../../protocol/safety";
import { decodeCursor, encodeCursor } from "../cursor";
import { requireRole } from "../room-access";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const reportRoutes = new Hono<AppEnv>();

type Report = typeof reports.$inferSelect;

const REPORT_NOT_FOUND = "Report not found";
const reportPath = z.object({ id: uuidParam, reportId: uuidParam });

/** Microsecond text of a timestamp: exact for keyset cursors (a JS Date keeps milliseconds). */
const createdText = sql<string>`to_char(${reports.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function mine(r: Report) {
  return {
    id: r.id,
    roomId: r.roomId,
    seq: r.seq,
    targetUserId: r.targetUserId,
    reason: r.reason,
    text: r.text,
    state: r.state,
    createdAt: r.createdAt.toISOString(),
  };
}

const reporter = alias(users, "reporter");
const target = alias(users, "target");

/** Reports as reviewers see them: with both people's names and the message as it is now. */
function reviewed(db: Db) {
  return db
    .select({
      report: reports,
      at: createdText,
      reporterName: reporter.displayName,
      targetName: target.displayName,
      message: {
        body: messages.body,
        createdAt: messages.createdAt,
        editedAt: messages.editedAt,
        deletedAt: messages.deletedAt,
      },
    })
    .from(reports)
    .innerJoin(reporter, eq(reporter.id, reports.reporterId))
    .innerJoin(target, eq(target.id, reports.targetUserId))
    .leftJoin(messages, and(eq(messages.roomId, reports.roomId), eq(messages.seq, reports.seq)));
}

type ReviewedRow = Awaited<ReturnType<ReturnType<typeof reviewed>["execute"]>>[number];

function reviewedView(r: ReviewedRow) {
  return {
    ...mine(r.report),
    reporter: { id: r.report.reporterId, displayName: r.reporterName },
    target: { id: r.report.targetUserId, displayName: r.targetName },
    message: r.message && {
      body: r.message.body,
      createdAt: r.message.createdAt.toISOString(),
      editedAt: r.message.editedAt?.toISOString() ?? null,
      deletedAt: r.message.deletedAt?.toISOString() ?? null,
    },
    handledBy: r.report.handledBy,
    handledAt: r.report.handledAt?.toISOString() ?? null,
  };
}

/** One newest-first page of reviewed reports matching `where`. */
async function page(db: Db, where: SQL | undefined, q: { cursor?: string; limit: number }) {
  const after = decodeCursor(q.cursor);
  const rows = await reviewed(db)
    .where(
      and(
        where,
        after ? sql`(${reports.createdAt}, ${reports.id}) < (${after.at}::timestamptz, ${after.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(reports.createdAt), desc(reports.id))
    .limit(q.limit + 1);
  const shown = rows.slice(0, q.limit);
  const last = shown[shown.length - 1];
  return {
    reports: shown.map(reviewedView),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.at, last.report.id) : null,
  };
}

/**
 * Sets a report's state (within `scope`: the room, never a report about the caller) and writes the audit
 * entry in the same transaction; answers the report as reviewers see it, or 404.
 */
async function setState(db: Db, me: string, reportId: string, scope: SQL, state: Report["state"]) {
  const where = and(eq(reports.id, reportId), ne(reports.targetUserId, me), scope);
  const handled = state === "open" ? { handledBy: null, handledAt: null } : { handledBy: me, handledAt: sql`now()` };
  const action = state === "open" ? "report_reopened" : `report_${state}`;
  const [, , [row]] = await db.batch([
    db
      .update(reports)
      .set({ state, ...handled })
      .where(where),
    db.insert(moderationAudit).select(
      db
        .select({
          id: sql<string>`gen_random_uuid()`.as("id"),
          actorId: sql<string>`${me}::uuid`.as("actor_id"),
          action: sql<string>`${action}`.as("action"),
          roomId: reports.roomId,
          targetUserId: reports.targetUserId,
          seq: reports.seq,
          reason: reports.reason,
          details: sql<
            Record<string, unknown>
          >`jsonb_build_object('reportId', ${reports.id}, 'state', ${state}::text)`.as("details"),
          createdAt: sql<Date>`now()`.as("created_at"),
        })
        .from(reports)
        .where(where),
    ),
    reviewed(db).where(where).limit(1),
  ]);
  if (!row) throw new AppError(404, "not_found", REPORT_NOT_FOUND);
  return { report: reviewedView(row) };
}

const create = defineRoute({
  method: "post",
  path: "/api/rooms/:id/reports",
  summary: "Report a message (seq) or a person (userId) in the room",
  tag: "reports",
  member: "id",
  params: idPath,
  body: reportBody,
  responses: {
    201: { description: "Reported", schema: myReportReply },
    200: { description: "Already reported by you: that report, unchanged", schema: myReportReply },
  },
});
handle(reportRoutes, create, async (c, { member: { room, actor }, body }) => {
  const db = createDb(c.env);
  const me = actor.userId;
  const field = body.seq === undefined ? "userId" : "seq";
  const yourself = () =>
    new AppError(422, "unprocessable", "You cannot report yourself", {
      details: [{ field, message: "names you" }],
    });
  let targetId: string;
  if (body.seq !== undefined) {
    const [message] = await db
      .select({ senderId: messages.senderId, kind: messages.kind })
      .from(messages)
      .where(and(eq(messages.roomId, room.id), eq(messages.seq, body.seq)))
      .limit(1);
    if (!message) throw new AppError(404, "not_found", "No such message in this room");
    if (message.kind === "system") {
      throw new AppError(422, "unprocessable", "System messages cannot be reported", {
        details: [{ field: "seq", message: "is a system message" }],
      });
    }
    targetId = message.senderId;
    if (targetId === me) throw yourself();
  } else {
    targetId = (body.userId as string).toLowerCase();
    if (targetId === me) throw yourself();
    // Someone in the room, or who wrote in it (and may have left since).
    const [known] = await db
      .select({ id: users.id })
      .from(users)
      .where(
        and(
          eq(users.id, targetId),
          or(
            exists(
              db
                .select({ one: sql`1` })
                .from(roomMembers)
                .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, targetId))),
            ),
            exists(
              db
                .select({ one: sql`1` })
                .from(messages)
                .where(and(eq(messages.roomId, room.id), eq(messages.senderId, targetId))),
            ),
          ),
        ),
      )
      .limit(1);
    if (!known) throw new AppError(404, "not_found", "No such person in this room");
  }

  const id = crypto.randomUUID();
  const seq = body.seq ?? null;
  const [inserted, , [report]] = await db.batch([
    db
      .insert(reports)
      .values({
        id,
        roomId: room.id,
        seq,
        targetUserId: targetId,
        reporterId: me,
        reason: body.reason,
        text: body.text || null,
      })
      .onConflictDoNothing()
      .returning({ id: reports.id }),
    // Audited only when this request created the report (a repeat is the same report, not a new action).
    db.insert(moderationAudit).select(
      db
        .select({
          id: sql<string>`gen_random_uuid()`.as("id"),
          actorId: reports.reporterId,
          action: sql<string>`'report'`.as("action"),
          roomId: reports.roomId,
          targetUserId: reports.targetUserId,
          seq: reports.seq,
          reason: reports.reason,
          details: sql<Record<string, unknown>>`jsonb_build_object('reportId', ${reports.id})`.as("details"),
          createdAt: sql<Date>`now()`.as("created_at"),
        })
        .from(reports)
        .where(eq(reports.id, id)),
    ),
    // The report, new or the earlier one (reports_once_key).
    db
      .select()
      .from(reports)
      .where(
        and(
          eq(reports.reporterId, me),
          eq(reports.roomId, room.id),
          eq(reports.targetUserId, targetId),
          sql`coalesce(${reports.seq}, 0) = ${seq ?? 0}`,
        ),
      )
      .limit(1),
  ]);
  if (!report) throw new Error("the report is neither new nor found");
  return c.json({ report: mine(report) }, inserted.length > 0 ? 201 : 200);
});

const listRoom = defineRoute({
  method: "get",
  path: "/api/rooms/:id/reports",
  summary: "The room's reports, newest first (owners, admins)",
  tag: "reports",
  member: "id",
  params: idPath,
  query: reportsQuery,
  responses: { 200: { description: "A page of reports", schema: reportsReply } },
});
handle(reportRoutes, listRoom, async (c, { member: { room, role, actor }, query }) => {
  requireRole(role, "admin", "review reports");
  const where = and(
    eq(reports.roomId, room.id),
    ne(reports.targetUserId, actor.userId),
    query.state ? eq(reports.state, query.state) : undefined,
  );
  return c.json(await page(createDb(c.env), where, query));
});

const patchRoom = defineRoute({
  method: "patch",
  path: "/api/rooms/:id/reports/:reportId",
  summary: "Set a report's state (owners, admins)",
  tag: "reports",
  member: "id",
  params: reportPath,
  paramsError: REPORT_NOT_FOUND,
  body: reportPatchBody,
  responses: { 200: { description: "The report", schema: reviewedReportReply } },
});
handle(reportRoutes, patchRoom, async (c, { member: { room, role, actor }, params, body }) => {
  requireRole(role, "admin", "review reports");
  const db = createDb(c.env);
  return c.json(
    await setState(db, actor.userId, params.reportId.toLowerCase(), eq(reports.roomId, room.id), body.state),
  );
});

const listAll = defineRoute({
  method: "get",
  path: "/api/admin/reports",
  summary: "Every room's reports, newest first",
  tag: "admin",
  auth: "admin",
  query: adminReportsQuery,
  responses: { 200: { description: "A page of reports", schema: reportsReply } },
});
handle(reportRoutes, listAll, async (c, { query }) => {
  const where = and(
    ne(reports.targetUserId, c.get("userId")),
    query.state ? eq(reports.state, query.state) : undefined,
    query.roomId ? eq(reports.roomId, query.roomId.toLowerCase()) : undefined,
  );
  return c.json(await page(createDb(c.env), where, query));
});

const patchAny = defineRoute({
  method: "patch",
  path: "/api/admin/reports/:id",
  summary: "Set a report's state",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: REPORT_NOT_FOUND,
  body: reportPatchBody,
  responses: { 200: { description: "The report", schema: reviewedReportReply } },
});
handle(reportRoutes, patchAny, async (c, { params, body }) => {
  const db = createDb(c.env);
  return c.json(await setState(db, c.get("userId"), params.id.toLowerCase(), sql`true`, body.state));
});
