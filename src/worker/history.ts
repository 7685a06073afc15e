/**
 * Message history, keyset-paginated on seq. The room's recent page is served from the Redis buffer only
 * when Redis holds every message of the requested window; anything less (a miss, an evicted key, one
 * failed write, Redis down) goes to Postgres, so a page never has a gap. Pages read from Postgres are
 * written back to the buffer.
 */
import { and, asc, desc, eq, gt, lt } from "drizzle-orm";
import { createDb } from "../db/client";
import { toMessageView } from "../db/message-view";
import { messages } from "../db/schema";
import { recentBufferLimits } from "../lib/config";
import { logJson } from "../lib/log";
import { RecentBuffer } from "../lib/recent-buffer";
import { redisConfigured, withRedis } from "../lib/redis";
import type { MessageView } from "../protocol/frames";
import type { Bindings } from "./types";

export interface HistoryQuery {
  before?: number;
  after?: number;
  limit: number;
}

export interface HistoryPage {
  messages: MessageView[];
  source: "redis" | "postgres";
}

function bufferFor(env: Bindings, roomId: string) {
  return (redis: Parameters<Parameters<typeof withRedis>[1]>[0]) =>
    new RecentBuffer(redis, roomId, recentBufferLimits(env));
}

/** `knownLastSeq`: the room's last seq as Postgres has it; a buffer whose newest entry is older is behind. */
export async function readHistory(
  env: Bindings,
  roomId: string,
  q: HistoryQuery,
  knownLastSeq = 0,
): Promise<HistoryPage> {
  const cached = await fromRedis(env, roomId, q, knownLastSeq).catch((err: Error) => {
    logJson("warn", { msg: "redis history read failed; using Postgres", roomId, error: err.message });
    return null;
  });
  if (cached) return { messages: cached, source: "redis" };
  const page = await fromPostgres(env, roomId, q);
  if (page.length > 0 && redisConfigured(env)) {
    await withRedis(env, (r) => bufferFor(env, roomId)(r).fillMissing(page), { retries: 0 }).catch(() => {});
  }
  return { messages: page, source: "postgres" };
}

async function fromRedis(
  env: Bindings,
  roomId: string,
  q: HistoryQuery,
  knownLastSeq: number,
): Promise<MessageView[] | null> {
  if (!redisConfigured(env)) return null;
  return withRedis(
    env,
    async (redis) => {
      const buffer = bufferFor(env, roomId)(redis);
      if (q.after !== undefined) {
        // Forward pages need the whole window, since Redis cannot tell "not yet sent" from "missing".
        const window = await buffer.window(q.after + 1, q.after + q.limit);
        return window;
      }
      let hi = q.before !== undefined ? q.before - 1 : (await buffer.bounds())?.max;
      if (hi === undefined) return null;
      // The newest page must be the newest: a buffer that missed the latest writes is not used for it.
      if (q.before === undefined && hi < knownLastSeq) return null;
      hi = Math.max(0, hi);
      const lo = Math.max(1, hi - q.limit + 1);
      const window = await buffer.window(lo, hi);
      return window ? window.reverse() : null;
    },
    { retries: 0 },
  );
}

async function fromPostgres(env: Bindings, roomId: string, q: HistoryQuery): Promise<MessageView[]> {
  const db = createDb(env);
  const forward = q.after !== undefined;
  const where = and(
    eq(messages.roomId, roomId),
    q.before !== undefined ? lt(messages.seq, q.before) : undefined,
    q.after !== undefined ? gt(messages.seq, q.after) : undefined,
  );
  const rows = await db
    .select()
    .from(messages)
    .where(where)
    .orderBy(forward ? asc(messages.seq) : desc(messages.seq))
    .limit(q.limit);
  return rows.map(toMessageView);
}
