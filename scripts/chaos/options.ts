/** Flags win over CHAOS_* environment variables, which win over the defaults (`--quick`: CI's short run). */
import { parseArgs } from "node:util";
import type { FaultCounts } from "./faults.ts";

export interface ChaosOptions extends FaultCounts {
  durationS: number;
  clients: number;
  rooms: number;
  /** Messages per second per client. */
  rate: number;
  /** How long Postgres stays down and Redis stays paused. */
  downMs: number;
  seed: number;
  port: number;
  keep: boolean;
}

const LONG: Omit<ChaosOptions, "seed" | "port" | "keep"> = {
  durationS: 600,
  clients: 12,
  rooms: 3,
  rate: 1.5,
  downMs: 8000,
  pgStops: 6,
  redisPauses: 3,
  redisFlushes: 3,
  stackKills: 3,
};
const QUICK: typeof LONG = {
  durationS: 60,
  clients: 6,
  rooms: 2,
  rate: 2,
  downMs: 4000,
  pgStops: 2,
  redisPauses: 1,
  redisFlushes: 1,
  stackKills: 1,
};

const NUMERIC = {
  duration: "durationS",
  clients: "clients",
  rooms: "rooms",
  rate: "rate",
  "down-ms": "downMs",
  "pg-stops": "pgStops",
  "redis-pauses": "redisPauses",
  "redis-flushes": "redisFlushes",
  "stack-kills": "stackKills",
  seed: "seed",
  port: "port",
} as const;

export function parseOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      keep: { type: "boolean" },
      help: { type: "boolean" },
      ...Object.fromEntries(Object.keys(NUMERIC).map((k) => [k, { type: "string" as const }])),
    },
  });
  if (values.help) {
    console.log(
      `npm run chaos -- [--quick] [--keep] ${Object.keys(NUMERIC)
        .map((k) => `[--${k} N]`)
        .join(" ")}\n(or CHAOS_DURATION, CHAOS_CLIENTS, … CHAOS_STACK_KILLS)`,
    );
    process.exit(0);
  }
  const quick = values.quick || process.env.CHAOS_QUICK === "1";
  const o: ChaosOptions = {
    ...(quick ? QUICK : LONG),
    seed: Date.now() % 100_000,
    port: 28787,
    keep: Boolean(values.keep),
  };
  for (const [flag, key] of Object.entries(NUMERIC)) {
    const raw =
      (values as Record<string, unknown>)[flag] ?? process.env[`CHAOS_${flag.toUpperCase().replaceAll("-", "_")}`];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} needs a number ≥ 0, got ${String(raw)}`);
    o[key] = n;
  }
  if (o.clients < 1 || o.rooms < 1 || o.durationS < 10) throw new Error("need ≥ 1 client, ≥ 1 room, ≥ 10 s");
  return o;
}
