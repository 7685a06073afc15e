/**
 * Integrations (issue 27): server credentials and bots, product-event webhooks, mobile push devices, data
 * exports, account deletions and per-room retention. Kept apart from the core schema; every table here
 * hangs off users or rooms and is removed with them.
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
import type { Db } from "./client";
import { rooms, users } from "./schema";

const at = (name: string) => timestamp(name, { withTimezone: true });

// --- server credentials and bots -------------------------------------------------------------------

export const PRINCIPAL_KINDS = ["bot", "service"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/**
 * Users that are not people: a bot (a member of rooms, posting as itself) or a service identity (a
 * server acting through its API key). Their users row has an unusable password hash, so they can never
 * sign in with a password; keys are their only credential.
 */
export const botAccounts = pgTable(
  "bot_accounts",
  {
    userId: uuid("user_id")
      .primaryKey()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: PRINCIPAL_KINDS }).notNull(),
    description: text("description"),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [check("bot_accounts_kind_check", sql`${t.kind} in ('bot', 'service')`)],
);

/**
 * API keys: shown once at creation, stored as the SHA-256 of the whole key (keys are 256 random bits, so
 * a fast hash is enough, as for refresh tokens). `prefix` lets people recognise a key in listings.
 * `roomIds` null: every room the principal may act in; otherwise only these.
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    principalId: uuid("principal_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    scopes: text("scopes").array().notNull(),
    roomIds: uuid("room_ids").array(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: at("created_at").notNull().defaultNow(),
    lastUsedAt: at("last_used_at"),
    expiresAt: at("expires_at"),
    revokedAt: at("revoked_at"),
  },
  (t) => [index("api_keys_principal_idx").on(t.principalId)],
);

// --- product-event webhooks ------------------------------------------------------------------------

/** An admin's receiver of product events. `failingSince`: start of the current run of failures. */
export const webhookEndpoints = pgTable("webhook_endpoints", {
  id: uuid("id").primaryKey().defaultRandom(),
  url: text("url").notNull(),
  /** Signs every call (Edgechat-Signature); shown once at creation and on rotation. */
  secret: text("secret").notNull(),
  description: text("description"),
  eventTypes: text("event_types").array().notNull(),
  enabled: boolean("enabled").notNull().default(true),
  failingSince: at("failing_since"),
  disabledAt: at("disabled_at"),
  disabledReason: text("disabled_reason"),
  createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: at("created_at").notNull().defaultNow(),
  updatedAt: at("updated_at").notNull().defaultNow(),
});

/**
 * Every product event, once, under its stable id: `<roomId>:<version>` for a room's change (from
 * room_changes), a random uuid for lifecycle events written by the triggers of migration 0010. No foreign
 * key to rooms: a deleted room's events stay deliverable. `dispatchedAt`: deliveries were created.
 */
export const integrationEvents = pgTable(
  "integration_events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    roomId: uuid("room_id"),
    version: bigint("version", { mode: "number" }),
    data: jsonb("data").notNull(),
    occurredAt: at("occurred_at").notNull().defaultNow(),
    dispatchedAt: at("dispatched_at"),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    index("integration_events_undispatched_idx").on(t.createdAt).where(sql`${t.dispatchedAt} is null`),
    index("integration_events_created_idx").on(t.createdAt),
  ],
);

export const DELIVERY_STATES = ["pending", "delivered", "dead"] as const;

/**
 * One event to one endpoint. Delivered in order per (endpoint, stream): a room's events by version in the
 * room's stream, everything else by time in the "deployment" stream. `dead`: given up (retries exhausted
 * or the endpoint disabled), listed to admins as the endpoint's dead letters and replayable.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: text("event_id")
      .notNull()
      .references(() => integrationEvents.id, { onDelete: "cascade" }),
    stream: text("stream").notNull(),
    orderKey: bigint("order_key", { mode: "number" }).notNull(),
    state: text("state", { enum: DELIVERY_STATES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    nextAttemptAt: at("next_attempt_at"),
    deliveredAt: at("delivered_at"),
    deadAt: at("dead_at"),
    createdAt: at("created_at").notNull().defaultNow(),
    updatedAt: at("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "webhook_deliveries_pk", columns: [t.endpointId, t.eventId] }),
    index("webhook_deliveries_stream_idx").on(t.endpointId, t.stream, t.state, t.orderKey),
    index("webhook_deliveries_dead_idx").on(t.endpointId, t.deadAt.desc()).where(sql`${t.state} = 'dead'`),
    check("webhook_deliveries_state_check", sql`${t.state} in ('pending', 'delivered', 'dead')`),
  ],
);

/**
 * How far each room's change log has been turned into events (`through`: the last version done), and a
 * short lease so one job at a time does it: jobs arriving twice or out of order then change nothing.
 */
export const roomEventCursors = pgTable("room_event_cursors", {
  roomId: uuid("room_id")
    .primaryKey()
    .references(() => rooms.id, { onDelete: "cascade" }),
  through: bigint("through", { mode: "number" }).notNull(),
  leaseUntil: at("lease_until"),
});

/** One drainer at a time per (endpoint, stream), so events leave in order: a short lease. */
export const webhookStreams = pgTable(
  "webhook_streams",
  {
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    stream: text("stream").notNull(),
    leaseUntil: at("lease_until"),
    /** When the one drain queued for a retry (its head's backoff) will run; others need not queue one. */
    wakeAt: at("wake_at"),
  },
  (t) => [primaryKey({ name: "webhook_streams_pk", columns: [t.endpointId, t.stream] })],
);

// --- mobile push -----------------------------------------------------------------------------------

export const DEVICE_PLATFORMS = ["fcm", "apns"] as const;
export type DevicePlatform = (typeof DEVICE_PLATFORMS)[number];

/**
 * A phone registered for native push: an FCM registration token or an APNs device token. A token names
 * one app install, so it belongs to whoever registered it last. `apnsEnvironment`: sandbox for
 * development builds.
 */
export const pushDevices = pgTable(
  "push_devices",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    platform: text("platform", { enum: DEVICE_PLATFORMS }).notNull(),
    token: text("token").notNull(),
    apnsEnvironment: text("apns_environment", { enum: ["production", "sandbox"] }),
    createdAt: at("created_at").notNull().defaultNow(),
    updatedAt: at("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("push_devices_platform_token_key").on(t.platform, t.token),
    index("push_devices_user_idx").on(t.userId),
    check("push_devices_platform_check", sql`${t.platform} in ('fcm', 'apns')`),
  ],
);

// --- data rights and retention ----------------------------------------------------------------------

export const EXPORT_STATES = ["pending", "ready", "failed"] as const;

/** A user's data as one JSON archive in R2, built in the background; downloadable until it expires. */
export const dataExports = pgTable(
  "data_exports",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    requestedBy: uuid("requested_by").references(() => users.id, { onDelete: "set null" }),
    state: text("state", { enum: EXPORT_STATES }).notNull().default("pending"),
    r2Key: text("r2_key"),
    size: bigint("size", { mode: "number" }),
    error: text("error"),
    createdAt: at("created_at").notNull().defaultNow(),
    completedAt: at("completed_at"),
    expiresAt: at("expires_at"),
  },
  (t) => [
    index("data_exports_user_idx").on(t.userId, t.createdAt.desc()),
    check("data_exports_state_check", sql`${t.state} in ('pending', 'ready', 'failed')`),
  ],
);

/**
 * An account deletion and how far it got. No foreign key: the user row itself is scrubbed (or removed)
 * and this record says what happened. Steps run again until `completedAt` (each is idempotent).
 */
export const accountDeletions = pgTable("account_deletions", {
  userId: uuid("user_id").primaryKey(),
  requestedBy: uuid("requested_by"),
  /** What happened to their messages: "delete" (tombstones) or "anonymise" (kept, author anonymous). */
  policy: text("policy", { enum: ["delete", "anonymise"] }).notNull(),
  state: text("state", { enum: ["running", "done", "failed"] })
    .notNull()
    .default("running"),
  error: text("error"),
  createdAt: at("created_at").notNull().defaultNow(),
  completedAt: at("completed_at"),
});

/** A room's own message lifetime, overriding the deployment's RETENTION_DAYS (0 there: keep forever). */
export const roomRetention = pgTable(
  "room_retention",
  {
    roomId: uuid("room_id")
      .primaryKey()
      .references(() => rooms.id, { onDelete: "cascade" }),
    days: integer("days").notNull(),
    /** Set by a deployment admin: the longest the room's owner may choose (null: the deployment's). */
    maxDays: integer("max_days"),
    updatedBy: uuid("updated_by").references(() => users.id, { onDelete: "set null" }),
    updatedAt: at("updated_at").notNull().defaultNow(),
  },
  (t) => [
    check("room_retention_days_check", sql`${t.days} > 0`),
    check("room_retention_max_days_check", sql`${t.maxDays} is null or ${t.days} <= ${t.maxDays}`),
  ],
);

/** One row `{on}`: whether any endpoint is enabled (the write-through asks before queueing room events). */
export function endpointsEnabled(db: Db) {
  return db
    .select({ on: sql<boolean>`exists (select 1 from ${webhookEndpoints} where ${webhookEndpoints.enabled})` })
    .from(sql`(select 1) as one`);
}

export type ApiKey = typeof apiKeys.$inferSelect;
export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;
export type PushDevice = typeof pushDevices.$inferSelect;
