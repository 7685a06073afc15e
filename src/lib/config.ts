/**
 * Every numeric setting of a deployment, with its default, in one table. wrangler.jsonc documents each
 * var; this is what the code falls back to when a var is missing or not a number, so the two places that
 * read a setting (the worker and the room, say) can never disagree on its default.
 */

/** Settings that must be a positive whole number. */
const POSITIVE = {
  ACCESS_TOKEN_TTL_SECONDS: 900,
  THROTTLE_MESSAGES: 3,
  THROTTLE_WINDOW_MS: 5000,
  ROOM_HEARTBEAT_TIMEOUT_MS: 120_000,
  ROOM_RING_SIZE: 1000,
  ROOM_CHANGE_LOG_SIZE: 5000,
  PRESENCE_COALESCE_MS: 250,
  RATE_LIMIT_IP_PER_MINUTE: 600,
  RATE_LIMIT_USER_PER_MINUTE: 300,
  RATE_LIMIT_AUTH_PER_MINUTE: 10,
  RECENT_BUFFER_SIZE: 500,
  RECENT_BUFFER_TTL_SECONDS: 86_400,
  ATTACHMENT_MAX_BYTES: 25 * 1024 * 1024,
  ATTACHMENT_ORPHAN_HOURS: 24,
  /** Inbox (issue 25): a room pushes to each watching inbox at most once per this many ms. */
  INBOX_COALESCE_MS: 1000,
  /** An inbox keeps its session (and its rooms' registrations) this long after its last device left. */
  INBOX_GRACE_MS: 20_000,
  /** Rooms an inbox registers with at once when a session starts. */
  INBOX_WATCH_CONCURRENCY: 4,
  /** Deltas an inbox keeps for devices that reconnect (older: a fresh snapshot). */
  INBOX_DELTA_LOG_SIZE: 1000,
  /** Sign-in failures per account: the first wait after the free ones, doubling with each failure… */
  LOGIN_LOCK_BASE_MS: 1000,
  /** …up to this (so no failure locks an account for longer; see docs/decisions.md). */
  LOGIN_LOCK_MAX_SECONDS: 900,
  /** An account's failures are forgotten after this long without one. */
  LOGIN_FAILURE_MEMORY_SECONDS: 86_400,
  /** How long a message waits for the moderation webhook before MODERATION_WEBHOOK_FAILURE decides. */
  MODERATION_WEBHOOK_TIMEOUT_MS: 1500,
  /** How often a room reads the content rules again (changes reach every room within this). */
  CONTENT_RULES_REFRESH_MS: 30_000,
  // --- Integrations (issue 27) ---
  /** Calls of one event to one endpoint before it becomes a dead letter of that endpoint. */
  WEBHOOK_MAX_ATTEMPTS: 10,
  /** Longest wait between two calls of one event (the backoff doubles up to this). */
  WEBHOOK_RETRY_MAX_SECONDS: 3600,
  /** An endpoint failing for this long without one success is disabled (3 days). */
  WEBHOOK_DISABLE_AFTER_SECONDS: 259_200,
  /** Delivered events are kept this many days (dead letters: until replayed, at most 30 days). */
  WEBHOOK_EVENT_RETENTION_DAYS: 7,
  /** A finished data export can be downloaded for this many hours. */
  EXPORT_TTL_HOURS: 72,
  /** Accounts with at most this many messages get their export at once; larger ones in the background. */
  EXPORT_INLINE_MAX_MESSAGES: 1000,
} as const;

/** Settings where 0 is meaningful (tests retry at once, a zero window turns digests off). */
const WHOLE = {
  NOTIFY_DIGEST_WINDOW_MS: 60_000,
  NOTIFY_WEBHOOK_TIMEOUT_MS: 5000,
  NOTIFY_RETRY_BASE_SECONDS: 2,
  /** 0: three windows' worth of the throttle limit, at least 10 (see throttleLimits). */
  THROTTLE_ABUSE_REJECTIONS: 0,
  /** Inbox: a new session starts registering with its rooms after a random delay up to this many ms. */
  INBOX_WATCH_JITTER_MS: 1000,
  /** Failed sign-ins per account that cost no wait (0: every failure waits). */
  LOGIN_FREE_FAILURES: 5,
  // --- Integrations (issue 27) ---
  /** First wait after a failed webhook call, doubling with each failure (0: retry at once; tests). */
  WEBHOOK_RETRY_BASE_SECONDS: 5,
  /** Messages older than this many days are removed (0: kept forever); rooms may set their own. */
  RETENTION_DAYS: 0,
} as const;

export type PositiveSetting = keyof typeof POSITIVE;
export type WholeSetting = keyof typeof WHOLE;
type SettingsEnv = Partial<Record<PositiveSetting | WholeSetting, string>>;

export function positiveSetting(env: SettingsEnv, name: PositiveSetting): number {
  return positiveInt(env[name], POSITIVE[name]);
}

export function wholeSetting(env: SettingsEnv, name: WholeSetting): number {
  return wholeNumber(env[name], WHOLE[name]);
}

export function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export function wholeNumber(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

/** The recent-message buffer's shape, read by the room (writer) and REST history (reader). */
export function recentBufferLimits(env: SettingsEnv): { size: number; ttlSeconds: number } {
  return {
    size: positiveSetting(env, "RECENT_BUFFER_SIZE"),
    ttlSeconds: positiveSetting(env, "RECENT_BUFFER_TTL_SECONDS"),
  };
}
