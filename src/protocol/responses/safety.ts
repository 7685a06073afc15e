/** What the report, audit-log and content-rule routes answer. */
import { z } from "zod";
import { REPORT_REASONS, REPORT_STATES } from "../safety";
import { id, nextCursor, seq, timestamp } from "./common";

const person = z.object({ id, displayName: z.string() });

/** A report as its reporter sees it: nothing about who handled it. */
export const myReport = z.object({
  id,
  roomId: id,
  /** The message reported, or null when a person was. */
  seq: seq.nullable(),
  targetUserId: id,
  reason: z.enum(REPORT_REASONS),
  text: z.string().nullable(),
  state: z.enum(REPORT_STATES),
  createdAt: timestamp,
});
export const myReportReply = z.object({ report: myReport });

/** A report as room moderators and deployment admins review it (never shown to the reported user). */
export const reviewedReport = myReport.extend({
  reporter: person,
  target: person,
  /** The message as Postgres has it now (null for reports of a person, or a message it never received). */
  message: z
    .object({ body: z.string(), createdAt: timestamp, editedAt: timestamp.nullable(), deletedAt: timestamp.nullable() })
    .nullable(),
  handledBy: id.nullable(),
  handledAt: timestamp.nullable(),
});
export const reviewedReportReply = z.object({ report: reviewedReport });
export const reportsReply = z.object({ reports: z.array(reviewedReport), nextCursor });

export const auditEntry = z.object({
  id,
  actorId: id.nullable(),
  action: z.string(),
  roomId: id.nullable(),
  targetUserId: id.nullable(),
  seq: seq.nullable(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  createdAt: timestamp,
});
export const auditReply = z.object({ entries: z.array(auditEntry), nextCursor });

export const contentRuleView = z.object({
  id,
  kind: z.enum(["word", "pattern"]),
  value: z.string(),
  action: z.enum(["reject", "mask"]),
  createdBy: id.nullable(),
  createdAt: timestamp,
});
export const contentRuleReply = z.object({ rule: contentRuleView });
export const contentRulesReply = z.object({
  rules: z.array(contentRuleView),
  /** How many more the deployment may add (rules, and of them patterns). */
  remaining: z.object({ rules: z.number().int(), patterns: z.number().int() }),
});
