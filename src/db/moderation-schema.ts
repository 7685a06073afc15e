/**
 * Safety: who blocks whom, room bans and mutes, reports and their review, the audit log of moderation
 * actions, the deployment's content rules, and failed sign-ins per account. Postgres is the truth for
 * all of them; rooms keep what they enforce (bans, mutes, slow mode) in their own SQLite as well, so
 * the rules hold with Redis down and across eviction.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { rooms, users } from "./schema";

/** `blocker` no longer sees `blocked` (hidden per viewer); a direct room between them refuses sends. */
export const userBlocks = pgTable(
  "user_blocks",
  {
    blockerId: uuid("blocker_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    blockedId: uuid("blocked_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "user_blocks_pk", columns: [t.blockerId, t.blockedId] }),
    index("user_blocks_blocked_idx").on(t.blockedId),
    check("user_blocks_not_self", sql`${t.blockerId} <> ${t.blockedId}`),
  ],
);

export const ROOM_SANCTIONS = ["ban", "mute"] as const;

/**
 * A member banned from a room (removed, cannot rejoin or be invited) or muted in it (read-only), until
 * `until` or, when null, until lifted.
 */
export const roomSanctions = pgTable(
  "room_sanctions",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ROOM_SANCTIONS }).notNull(),
    until: timestamp("until", { withTimezone: true }),
    reason: text("reason"),
    by: uuid("by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "room_sanctions_pk", columns: [t.roomId, t.userId, t.kind] }),
    check("room_sanctions_kind_check", sql`${t.kind} in ('ban', 'mute')`),
  ],
);

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

/**
 * A member's report of a message (seq set) or a user in a room. One per reporter and target: reporting
 * the same thing again is the same report. The reporter is never shown to the reported user.
 */
export const reports = pgTable(
  "reports",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }),
    targetUserId: uuid("target_user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    reporterId: uuid("reporter_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    reason: text("reason", { enum: REPORT_REASONS }).notNull(),
    text: text("text"),
    state: text("state", { enum: REPORT_STATES }).notNull().default("open"),
    handledBy: uuid("handled_by").references(() => users.id, { onDelete: "set null" }),
    handledAt: timestamp("handled_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Reporting the same message (or the same user, seq null) twice is one report.
    uniqueIndex("reports_once_key").on(t.reporterId, t.roomId, t.targetUserId, sql`coalesce(${t.seq}, 0)`),
    index("reports_room_state_idx").on(t.roomId, t.state, t.createdAt),
    index("reports_state_idx").on(t.state, t.createdAt),
    check("reports_state_check", sql`${t.state} in ('open', 'actioned', 'dismissed')`),
  ],
);

/** Every moderation action: who, what, on whom or what, when, why. Read by deployment admins. */
export const moderationAudit = pgTable(
  "moderation_audit",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    actorId: uuid("actor_id").references(() => users.id, { onDelete: "set null" }),
    action: text("action").notNull(),
    roomId: uuid("room_id").references(() => rooms.id, { onDelete: "set null" }),
    targetUserId: uuid("target_user_id").references(() => users.id, { onDelete: "set null" }),
    seq: bigint("seq", { mode: "number" }),
    reason: text("reason"),
    details: jsonb("details").$type<Record<string, unknown>>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("moderation_audit_created_idx").on(t.createdAt), index("moderation_audit_room_idx").on(t.roomId)],
);

export const CONTENT_RULE_ACTIONS = ["reject", "mask"] as const;

/** The deployment's blocklist: a word (matched whole, case- and accent-insensitively) or a pattern. */
export const contentRules = pgTable(
  "content_rules",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    kind: text("kind", { enum: ["word", "pattern"] }).notNull(),
    value: text("value").notNull(),
    action: text("action", { enum: CONTENT_RULE_ACTIONS }).notNull(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check("content_rules_action_check", sql`${t.action} in ('reject', 'mask')`)],
);

/**
 * Failed sign-ins per account key (the lower-cased email, known account or not, so the answer never
 * tells them apart). Each failure past a few doubles the wait before the next try; a success resets it.
 */
export const loginAttempts = pgTable("login_attempts", {
  emailKey: text("email_key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  lockedUntil: timestamp("locked_until", { withTimezone: true }),
  lastFailedAt: timestamp("last_failed_at", { withTimezone: true }),
});
