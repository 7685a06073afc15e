/**
 * List prices the cost scenario uses (bench/scenarios/costs.ts), and the storage rows a message costs a
 * room. Kept free of imports so the workers test that measures the rows (test/worker/perf-costs.test.ts)
 * can read the figure it guards.
 */

/** List prices in USD, as read on 2026-12-07 (pages named beside each). */
export const PRICES = {
  /** developers.cloudflare.com/durable-objects/platform/pricing: $0.15/M requests; incoming WebSocket messages 20:1. */
  doRequestPerMillion: 0.15,
  /** ibid.: $12.50 per million GB-s; an object is billed 128 MB. */
  doGbSecondPerMillion: 12.5,
  /** ibid. (SQLite storage billing, from 2026-01-07): $1.00 per million rows written, $0.001 per million read. */
  doRowWrittenPerMillion: 1.0,
  doRowReadPerMillion: 0.001,
  /** developers.cloudflare.com/workers/platform/pricing: $0.30/M requests, $0.02/M CPU ms. */
  workerRequestPerMillion: 0.3,
  workerCpuMsPerMillion: 0.02,
  /** upstash.com/docs/redis/overall/billing: pay-as-you-go $0.20 per 100K commands. */
  upstashCommandPerMillion: 2.0,
  /** neon.com/docs/introduction/plans: Launch $0.106 per CU-hour (1 CU: 1 vCPU, 4 GB). */
  neonCuHour: 0.106,
  /** developers.cloudflare.com/queues/platform/pricing: $0.40 per million operations (write, read, delete each). */
  queueOpPerMillion: 0.4,
  /** ably.com/docs/pricing: $2.50 per million messages past the package; a publish and each delivery count. */
  ablyMessagePerMillion: 2.5,
  /** Pusher Channels "Startup" ($49/month for 1M messages/day; pusher.com/channels/pricing via Ably's comparison). */
  pusherStartupMonthly: 49,
  pusherStartupMessagesPerDay: 1_000_000,
} as const;

/** SQLite rows a room writes per accepted message, counted by test/worker/perf-costs.test.ts. */
export const ROWS_WRITTEN_PER_MESSAGE = 15;
/** ...and reads (billed at $0.001 per million: a rounding error beside the writes). */
export const ROWS_READ_PER_MESSAGE = 30;
