/**
 * Drains the room's outbox to Postgres: at once after each commit, and by the alarm with backoff while
 * Postgres is unreachable. Rows leave the outbox only after Postgres confirmed them.
 */
import { createDb } from "../db/client";
import { withDeadline } from "../lib/deadline";
import { logJson } from "../lib/log";
import type { OutboxRow, RoomStore } from "./room-store";
import { isPermanent, writeThrough } from "./write-through";

/** Outbox rows per Postgres round trip. */
const FLUSH_BATCH = 200;
/**
 * A busy room's flushes start at least this long after the previous one ended, so the commits made
 * meanwhile share one Postgres call (issue 24: a write-through call costs about the same for one row as
 * for fifty). A room that was quiet for this long flushes at once. Acks never wait for it (the outbox is
 * committed first); only Postgres, notifications and product events see a busy room's messages up to this
 * much later.
 */
export const FLUSH_LINGER_MS = 20;
/** If a flush started by a send never reports back (eviction), the alarm picks the outbox up after this. */
const FLUSH_SAFETY_MS = 10_000;
const FLUSH_BACKOFF_MAX_MS = 60_000;
/** A hung Postgres call must not wedge the outbox: give up and retry. */
export const PG_TIMEOUT_MS = 10_000;

export interface FlusherDeps {
  store: RoomStore;
  /** Read at each flush: the room's bindings, which tests may swap to simulate an outage. */
  env: () => Env;
  roomId: () => string | null;
  /** Members with a live socket now: they get no notification job. */
  onlineUsers: () => string[];
  /** Brings the room's alarm forward to this time (never pushes it back). */
  armAlarm: (at: number) => void;
}

export class OutboxFlusher {
  private readonly deps: FlusherDeps;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private cachedRetryAt: number | null = null;
  private lastFlushEndedAt = 0;

  constructor(deps: FlusherDeps) {
    this.deps = deps;
  }

  /**
   * Starts a flush now, or asks the running one to go again (messages arriving meanwhile join the next
   * batch). While backing off after a failure it does nothing unless forced: the alarm retries at the
   * planned time, so a Postgres outage is not hammered once per accepted message.
   */
  flushSoon(force = false): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    if (!force && this.retryAt() > Date.now()) return Promise.resolve();
    this.flushing = this.flushLoop(force).finally(() => {
      this.flushing = null;
    });
    // Safety net: if this object is evicted mid-flush, the alarm drains the outbox.
    this.deps.armAlarm(Date.now() + FLUSH_SAFETY_MS);
    return this.flushing;
  }

  /** Resolves when no flush is running. */
  async idle(): Promise<void> {
    if (this.flushing) await this.flushing;
  }

  /** When the next attempt is due after a failure (0 when not backing off). */
  retryAt(): number {
    this.cachedRetryAt ??= Number(this.deps.store.getMeta("flushRetryAt") ?? 0);
    return this.cachedRetryAt;
  }

  private setRetryAt(at: number): void {
    this.cachedRetryAt = at;
    this.deps.store.setMeta("flushRetryAt", at);
  }

  private async flushLoop(force: boolean): Promise<void> {
    do {
      const wait = this.lastFlushEndedAt + FLUSH_LINGER_MS - Date.now();
      if (!force && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.flushAgain = false;
      const ok = await this.flushOnce();
      this.lastFlushEndedAt = Date.now();
      if (!ok) return;
    } while (this.flushAgain || this.deps.store.outboxStats().depth > 0);
  }

  /** One batch. False on failure, after arranging the retry. */
  private async flushOnce(): Promise<boolean> {
    const store = this.deps.store;
    const env = this.deps.env();
    const rows = store.outboxBatch(FLUSH_BATCH);
    const roomId = this.deps.roomId();
    const last = rows[rows.length - 1];
    if (!last || !roomId) return true;
    const write = (batch: OutboxRow[]) =>
      withDeadline(PG_TIMEOUT_MS, (signal) =>
        writeThrough(createDb(env, { signal }), env.NOTIFICATIONS, roomId, batch, this.deps.onlineUsers()),
      );
    try {
      await write(rows);
      store.ackOutboxThrough(last.id);
      if (this.retryAt() !== 0) {
        store.setMeta("flushFailures", 0);
        this.setRetryAt(0);
      }
      return true;
    } catch (err) {
      if (!isPermanent(err)) return this.failed(err);
      // One row Postgres will never take must not hold back the rest: find it and set it aside.
      for (const row of rows) {
        try {
          await write([row]);
          store.ackOutboxRow(row.id);
        } catch (rowErr) {
          if (!isPermanent(rowErr)) return this.failed(rowErr);
          const error = (rowErr as Error).message;
          logJson("error", { msg: "outbox row refused by Postgres", roomId, seq: row.seq, kind: row.kind, error });
          store.deadLetter(row, error, Date.now());
        }
      }
      return true;
    }
  }

  private failed(err: unknown): false {
    const failures = Number(this.deps.store.getMeta("flushFailures") ?? 0) + 1;
    this.deps.store.setMeta("flushFailures", failures);
    const delay = Math.min(1000 * 2 ** (failures - 1), FLUSH_BACKOFF_MAX_MS);
    this.setRetryAt(Date.now() + delay);
    logJson("warn", {
      msg: "write-through failed; will retry",
      roomId: this.deps.roomId(),
      failures,
      retryInMs: delay,
      error: (err as Error).message,
    });
    this.deps.armAlarm(Date.now() + delay);
    return false;
  }
}
