/**
 * The deployment's content rules (admins): words and patterns that reject or mask text in message bodies
 * and display names. A pattern is checked for bounded matching cost when saved (src/lib/content-rules.ts);
 * what cannot be a rule is a 422 saying why. Adding and removing rules is audited.
 */
import { and, asc, count, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { contentRules, moderationAudit } from "../../db/moderation-schema";
import { MAX_PATTERN_RULES, MAX_RULES, ruleProblem } from "../../lib/content-rules";
import { AppError } from "../../protocol/errors";
import { idPath } from "../../protocol/params";
import { contentRuleReply, contentRulesReply } from "../../protocol/responses/safety";
import { contentRuleBody } from "../../protocol/safety";
import { auditInsert } from "../moderation/audit";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const contentRuleRoutes = new Hono<AppEnv>();

type Rule = typeof contentRules.$inferSelect;

function ruleView(r: Rule) {
  return {
    id: r.id,
    kind: r.kind,
    value: r.value,
    action: r.action,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
  };
}

const list = defineRoute({
  method: "get",
  path: "/api/admin/content-rules",
  summary: "The content rules, oldest first, and how many more may be added",
  tag: "admin",
  auth: "admin",
  responses: { 200: { description: "Every rule (at most 500, so one page)", schema: contentRulesReply } },
});
handle(contentRuleRoutes, list, async (c) => {
  const rows = await createDb(c.env)
    .select()
    .from(contentRules)
    .orderBy(asc(contentRules.createdAt), asc(contentRules.id));
  const patterns = rows.filter((r) => r.kind === "pattern").length;
  return c.json({
    rules: rows.map(ruleView),
    remaining: {
      rules: Math.max(0, MAX_RULES - rows.length),
      patterns: Math.max(0, Math.min(MAX_PATTERN_RULES - patterns, MAX_RULES - rows.length)),
    },
  });
});

const add = defineRoute({
  method: "post",
  path: "/api/admin/content-rules",
  summary: "Add a word or pattern that rejects or masks text",
  tag: "admin",
  auth: "admin",
  body: contentRuleBody,
  responses: { 201: { description: "The rule", schema: contentRuleReply } },
});
handle(contentRuleRoutes, add, async (c, { body }) => {
  const problem = ruleProblem(body.kind, body.value);
  if (problem) {
    throw new AppError(422, "unprocessable", `This ${body.kind} cannot be a rule: it ${problem}`, {
      details: [{ field: "value", message: problem }],
    });
  }
  const db = createDb(c.env);
  const [[held], [same]] = await db.batch([
    db
      .select({ rules: count(), patterns: sql<number>`count(*) filter (where ${contentRules.kind} = 'pattern')::int` })
      .from(contentRules),
    db
      .select({ id: contentRules.id })
      .from(contentRules)
      .where(and(eq(contentRules.kind, body.kind), eq(contentRules.value, body.value)))
      .limit(1),
  ]);
  if (same) {
    throw new AppError(409, "conflict", "This rule exists already", { details: { id: same.id } });
  }
  if ((held?.rules ?? 0) >= MAX_RULES) {
    throw new AppError(422, "unprocessable", `The deployment has ${MAX_RULES} rules, the most it may have`, {
      details: [{ field: "kind", message: `at most ${MAX_RULES} rules` }],
    });
  }
  if (body.kind === "pattern" && (held?.patterns ?? 0) >= MAX_PATTERN_RULES) {
    throw new AppError(
      422,
      "unprocessable",
      `The deployment has ${MAX_PATTERN_RULES} pattern rules, the most it may have (each costs a scan of every message)`,
      { details: [{ field: "kind", message: `at most ${MAX_PATTERN_RULES} patterns` }] },
    );
  }
  const me = c.get("userId");
  const id = crypto.randomUUID();
  const [[rule]] = await db.batch([
    db
      .insert(contentRules)
      .values({ id, kind: body.kind, value: body.value, action: body.action, createdBy: me })
      .returning(),
    auditInsert(db, {
      actorId: me,
      action: "content_rule_added",
      details: { ruleId: id, kind: body.kind, value: body.value, action: body.action },
    }),
  ]);
  if (!rule) throw new Error("insert returned nothing");
  return c.json({ rule: ruleView(rule) }, 201);
});

const remove = defineRoute({
  method: "delete",
  path: "/api/admin/content-rules/:id",
  summary: "Remove a content rule",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: "Rule not found",
  responses: { 204: { description: "Removed" } },
});
handle(contentRuleRoutes, remove, async (c, { params }) => {
  const id = params.id.toLowerCase();
  const db = createDb(c.env);
  const r = contentRules;
  const [, deleted] = await db.batch([
    // The entry is made from the row before it goes, in the same transaction (none if there is no such rule).
    db.insert(moderationAudit).select(
      db
        .select({
          id: sql<string>`gen_random_uuid()`.as("id"),
          actorId: sql<string>`${c.get("userId")}::uuid`.as("actor_id"),
          action: sql<string>`'content_rule_removed'`.as("action"),
          roomId: sql<string | null>`null::uuid`.as("room_id"),
          targetUserId: sql<string | null>`null::uuid`.as("target_user_id"),
          seq: sql<number | null>`null::bigint`.as("seq"),
          reason: sql<string | null>`null::text`.as("reason"),
          details: sql<
            Record<string, unknown>
          >`jsonb_build_object('ruleId', ${r.id}, 'kind', ${r.kind}, 'value', ${r.value}, 'action', ${r.action})`.as(
            "details",
          ),
          createdAt: sql<Date>`now()`.as("created_at"),
        })
        .from(r)
        .where(eq(r.id, id)),
    ),
    db.delete(r).where(eq(r.id, id)).returning({ id: r.id }),
  ]);
  if (deleted.length === 0) throw new AppError(404, "not_found", "Rule not found");
  return c.body(null, 204);
});
