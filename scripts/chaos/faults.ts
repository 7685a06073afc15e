/**
 * The fault schedule: each kind of fault the requested number of times, in a shuffled order (seeded, so a
 * run can be repeated), spread over the middle of the run and never two at once, so that each recovery
 * (and the outbox drain after Postgres) is measured on its own.
 */
import type { ChaosPostgres } from "./postgres.ts";
import { sleep } from "./procs.ts";
import type { ChaosRedis } from "./redis.ts";
import type { ChaosStack } from "./stack.ts";

export type FaultKind = "pg-immediate" | "pg-sigkill" | "redis-pause" | "redis-flush" | "stack-kill";

export interface FaultCounts {
  pgStops: number;
  redisPauses: number;
  redisFlushes: number;
  stackKills: number;
}

export interface FaultLog {
  kind: FaultKind;
  atS: number;
  /** From the fault to service back (Postgres accepting queries, the worker answering /health). */
  recoveryMs: number;
  /** Postgres faults: from Postgres back to every message acked before then being in Postgres. */
  drainMs?: number | null;
}

export interface FaultTargets {
  postgres: ChaosPostgres;
  redis: ChaosRedis;
  stack: ChaosStack;
  /** Resolves with the ms from now until Postgres holds everything acked so far (null: timed out). */
  measureDrain(): Promise<number | null>;
  log(line: string): void;
}

export function plan(counts: FaultCounts, seed: number): FaultKind[] {
  const kinds: FaultKind[] = [
    ...Array.from({ length: counts.pgStops }, (_, i): FaultKind => (i % 2 ? "pg-sigkill" : "pg-immediate")),
    ...Array.from({ length: counts.redisPauses }, (): FaultKind => "redis-pause"),
    ...Array.from({ length: counts.redisFlushes }, (): FaultKind => "redis-flush"),
    ...Array.from({ length: counts.stackKills }, (): FaultKind => "stack-kill"),
  ];
  // mulberry32: a tiny seeded generator, so the order is reproducible from the printed seed.
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as FaultKind, kinds[i] as FaultKind];
  }
  return kinds;
}

async function inject(kind: FaultKind, t: FaultTargets, downMs: number): Promise<Omit<FaultLog, "atS">> {
  const began = Date.now();
  switch (kind) {
    case "pg-immediate":
    case "pg-sigkill": {
      await t.postgres.stop(kind === "pg-immediate" ? "immediate" : "sigkill");
      await sleep(downMs);
      await t.postgres.start();
      const recoveryMs = Date.now() - began;
      return { kind, recoveryMs, drainMs: await t.measureDrain() };
    }
    case "redis-pause":
      t.redis.pause();
      await sleep(downMs);
      t.redis.resume();
      return { kind, recoveryMs: Date.now() - began };
    case "redis-flush":
      await t.redis.flush();
      return { kind, recoveryMs: Date.now() - began };
    case "stack-kill":
      await t.stack.kill();
      await sleep(Math.min(downMs, 2000));
      await t.stack.start();
      return { kind, recoveryMs: Date.now() - began };
  }
}

/** Runs the plan between 10% and 80% of `durationMs` from `startedAt`; stops early when `stopped()`. */
export async function runFaults(
  kinds: FaultKind[],
  t: FaultTargets,
  o: { startedAt: number; durationMs: number; downMs: number; stopped: () => boolean },
): Promise<FaultLog[]> {
  const done: FaultLog[] = [];
  const from = o.durationMs * 0.1;
  const span = o.durationMs * 0.7;
  for (const [i, kind] of kinds.entries()) {
    const at = o.startedAt + from + (kinds.length > 1 ? (span * i) / (kinds.length - 1) : span / 2);
    while (Date.now() < at && !o.stopped()) await sleep(Math.min(250, at - Date.now()));
    if (o.stopped()) break;
    const atS = (Date.now() - o.startedAt) / 1000;
    t.log(`fault ${i + 1}/${kinds.length} at ${atS.toFixed(0)} s: ${kind}`);
    const r = await inject(kind, t, o.downMs);
    const drain =
      r.drainMs === undefined ? "" : `, outbox drained in ${r.drainMs === null ? "(timed out)" : `${r.drainMs} ms`}`;
    t.log(`  back after ${r.recoveryMs} ms${drain}`);
    done.push({ ...r, atS });
  }
  return done;
}
