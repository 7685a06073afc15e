/**
 * Postgres schema: the source of truth for users, rooms, members and messages.
 * Changes go through `npm run db:generate`, which writes a SQL migration into migrations/.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
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
import type { AttachmentRef, ChangeFrame, CustomData, SystemEvent } from "../protocol/frames";

/** Who a user is: a person, a bot (acts through API keys, posts as itself) or a service identity. */
export const USER_KINDS = ["user", "bot", "service"] as const;
export type UserKind = (typeof USER_KINDS)[number];

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    email: text("email").notNull(),
    displayName: text("display_name").notNull(),
    passwordHash: text("password_hash").notNull(),
    /** Operators; ADMIN_EMAILS grants the same without a database change. */
    isAdmin: boolean("is_admin").notNull().default(false),
    /** Set by an admin: login and refresh are refused, sockets closed, access tokens rejected. */
    bannedAt: timestamp("banned_at", { withTimezone: true }),
    banReason: text("ban_reason"),
    /**
     * People are "user"; bots and service identities (integration-schema.ts) are marked here too, so every
     * view of a user can say which it is without another join.
     */
    kind: text("kind", { enum: USER_KINDS }).notNull().default("user"),
    createdAt: createdAt(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Emails are unique regardless of case: Ana@x.io and ana@x.io are one account.
    uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`),
    check("users_kind_check", sql`${t.kind} in ('user', 'bot', 'service')`),
  ],
);

export const rooms = pgTable(
  "rooms",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    kind: text("kind", { enum: ["group", "direct"] }).notNull(),
    name: text("name"),
    topic: text("topic"),
    isPublic: boolean("is_public").notNull().default(false),
    /** For direct rooms: the two user ids sorted and joined, so a pair can only ever have one room. */
    directKey: text("direct_key").unique(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    /** The last change of the room's log written here (room_changes); history pages say which they reflect. */
    version: bigint("version", { mode: "number" }).notNull().default(0),
    custom: jsonb("custom").$type<CustomData>(),
    /** Slow mode: one message per this many seconds per member (0: off); owners and admins are exempt. */
    slowModeSeconds: integer("slow_mode_seconds").notNull().default(0),
    lastMessageAt: timestamp("last_message_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    check("rooms_kind_check", sql`${t.kind} in ('group', 'direct')`),
    check("rooms_direct_key_check", sql`(${t.kind} = 'direct') = (${t.directKey} is not null)`),
  ],
);

export const roomMembers = pgTable(
  "room_members",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "admin", "member"] })
      .notNull()
      .default("member"),
    lastReadSeq: bigint("last_read_seq", { mode: "number" }).notNull().default(0),
    mutedUntil: timestamp("muted_until", { withTimezone: true }),
    joinedAt: timestamp("joined_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.roomId, t.userId] }),
    index("room_members_user_idx").on(t.userId),
    check("room_members_role_check", sql`${t.role} in ('owner', 'admin', 'member')`),
  ],
);

export const messages = pgTable(
  "messages",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    /** Gapless per-room order assigned by the room's Durable Object; (room_id, seq) is the identity. */
    seq: bigint("seq", { mode: "number" }).notNull(),
    senderId: uuid("sender_id")
      .notNull()
      .references(() => users.id),
    /** The sender's idempotency key: a resend with the same key is the same message, forever. */
    clientMsgId: text("client_msg_id").notNull(),
    body: text("body").notNull(),
    replyTo: bigint("reply_to", { mode: "number" }),
    /** Files attached at send time: [{id, filename, contentType, size}]. */
    attachments: jsonb("attachments").$type<AttachmentRef[]>(),
    kind: text("kind", { enum: ["regular", "system"] })
      .notNull()
      .default("regular"),
    /** System messages: the event the body describes ({event, userId, by, …}). */
    system: jsonb("system").$type<SystemEvent>(),
    custom: jsonb("custom").$type<CustomData>(),
    createdAt: createdAt(),
    editedAt: timestamp("edited_at", { withTimezone: true }),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: "messages_room_seq_pk", columns: [t.roomId, t.seq] }),
    uniqueIndex("messages_room_sender_client_msg_key").on(t.roomId, t.senderId, t.clientMsgId),
    // Full-text search over bodies; 'simple' keeps every word (no language stemming or stop words).
    index("messages_body_fts").using("gin", sql`to_tsvector('simple', ${t.body})`),
    // Threads: replies to one message.
    index("messages_reply_to_idx").on(t.roomId, t.replyTo),
    // Operators' messages-per-hour over the whole deployment.
    index("messages_created_at_idx").on(t.createdAt),
    check("messages_seq_positive", sql`${t.seq} > 0`),
  ],
);

/** One user's emoji on one message; written through from the room like every other change. */
export const messageReactions = pgTable(
  "message_reactions",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ name: "message_reactions_pk", columns: [t.roomId, t.seq, t.userId, t.emoji] })],
);

export const pins = pgTable(
  "pins",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    pinnedBy: uuid("pinned_by").references(() => users.id, { onDelete: "set null" }),
    pinnedAt: timestamp("pinned_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "pins_pk", columns: [t.roomId, t.seq] })],
);

/**
 * Every change to a room, numbered by the room's gapless change log (`version`), as the frame clients
 * received. Written through from the room with the change itself; catch-up reads what the room's SQLite
 * no longer holds from here. A deleted message's text is scrubbed from its rows.
 */
export const roomChanges = pgTable(
  "room_changes",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    version: bigint("version", { mode: "number" }).notNull(),
    kind: text("kind").notNull(),
    /** The message the change is about, if any. */
    seq: bigint("seq", { mode: "number" }),
    frame: jsonb("frame").$type<ChangeFrame>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: "room_changes_pk", columns: [t.roomId, t.version] }),
    index("room_changes_room_seq_idx").on(t.roomId, t.seq),
    check("room_changes_version_positive", sql`${t.version} > 0`),
  ],
);

/**
 * A sign-in: one per login or register, shared by the refresh-token family it starts and every access
 * token minted from it (their `sid`). Revoking it (logout, a detected token replay) ends all of them at
 * once, including tokens minted by a refresh racing the revocation.
 */
export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/**
 * Opaque refresh tokens, stored only as SHA-256 hashes. Each use rotates the token within its family;
 * presenting a token that was already used (a replay) revokes the whole family.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The session (sessions.id) this token belongs to. */
    familyId: uuid("family_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId), index("refresh_tokens_user_idx").on(t.userId)],
);

export type User = typeof users.$inferSelect;
export type Room = typeof rooms.$inferSelect;
export type RoomMember = typeof roomMembers.$inferSelect;
export type Message = typeof messages.$inferSelect;
