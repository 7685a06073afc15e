/**
 * Request bodies and queries of reports, the moderation audit log and the deployment's content rules,
 * shared by the REST routes, the OpenAPI document and clients. Unknown fields are refused.
 */
import { z } from "zod";

/** The same lists as the `reports` table's (src/db/moderation-schema.ts; a test holds them equal). */
export const REPORT_REASONS = [
  "spam",
  "harassment",
  "hate",
  "violence",
  "sexual",
  "self_harm",
  "illegal",
  "other",
] as const;
export const REPORT_STATES = ["open", "actioned", "dismissed"] as const;

export const MAX_REPORT_TEXT = 1000;

/** A report names a message (`seq`, its sender is the target) or a user, never both. */
export const reportBody = z
  .strictObject({
    seq: z.number().int().min(1).optional(),
    userId: z.uuid().optional(),
    reason: z.enum(REPORT_REASONS),
    text: z.string().trim().max(MAX_REPORT_TEXT, `at most ${MAX_REPORT_TEXT} characters`).optional(),
  })
  .refine((b) => (b.seq === undefined) !== (b.userId === undefined), {
    message: "give exactly one of seq (a message) or userId (a person)",
    path: ["seq"],
  });

const page = {
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
};

export const reportsQuery = z.strictObject({ state: z.enum(REPORT_STATES).optional(), ...page });
export const adminReportsQuery = reportsQuery.extend({ roomId: z.uuid().optional() });

export const reportPatchBody = z.strictObject({ state: z.enum(REPORT_STATES) });

export const auditQuery = z.strictObject({
  roomId: z.uuid().optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9_.]{0,63}$/, "an action name such as ban or report_dismissed")
    .optional(),
  actorId: z.uuid().optional(),
  targetUserId: z.uuid().optional(),
  ...page,
});

export const CONTENT_RULE_KINDS = ["word", "pattern"] as const;
export const CONTENT_RULE_ACTIONS = ["reject", "mask"] as const;

/**
 * Whether the value is a usable word (at most 100 characters) or a safe pattern (at most 200) is checked by
 * the route: a 422 saying why.
 */
export const contentRuleBody = z.strictObject({
  kind: z.enum(CONTENT_RULE_KINDS),
  value: z.string().trim().min(1, "must not be empty").max(1000, "at most 1000 characters"),
  action: z.enum(CONTENT_RULE_ACTIONS),
});
