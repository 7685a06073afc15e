/**
 * Message history, keyset-paginated on seq. Pages come from Postgres, in one snapshot with the room's
 * version, so each message carries its whole state (reactions with the viewer's own, replies, pin) as of
 * that version and a client can load a page, then catch up from the version with nothing missed or twice.
 * The Redis buffer can give neither a version nor per-viewer state, so it only serves when Postgres fails
 * mid-request, and then only a range it holds whole (a page never has a gap), marked `version: null`.
 * See docs/decisions.md, "History pages come from one Postgres snapshot".
 */
import { and, asc, desc, eq, gt, lt } from "drizzle-orm";
import { isUnavailable } from "../db/errors";
import { messageStateColumns, toMessageState } from "../db/message-view";
import { messages, rooms } from "../db/schema";
import { createSnapshotDb } from "../db/snapshot";
import { recentBufferLimits } from "../lib/config";
import { logJson } from "../lib/log";
import { RecentBuffer } from "../lib/recent-buffer";
import { redisConfigured, withRedis } from "../lib/redis";
import type { MessageView } from "../protocol/frames";
import type { MessageState } from "../protocol/responses/messages";
import { notFound } from "./room-access";
import type { Bindings } from "./types";

export interface HistoryQuery {
  before?: number;
  after?: number;
  limit: number;
}

export type HistoryPage =
  | { source: "postgres"; version: number; messages: MessageState[] }
  | { source: "redis"; version: null; messages: MessageView[] };

/**
 * `viewerId`: whose reactions are `mine`. `knownLastSeq`: the room's last seq as Postgres had it when the
 * caller's membership was checked; the degraded Redis path does not serve a newest page older than it.
 */
export async function readHistory(
  env: Bindings,
  roomId: string,
  viewerId: string,
  q: HistoryQuery,
  knownLastSeq = 0,
): Promise<HistoryPage> {
  try {
    return { source: "postgres", ...(await fromPostgres(env, roomId, viewerId, q)) };
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    const cached = await fromRedis(env, roomId, q, knownLastSeq).catch((redisErr: Error) => {
      logJson("warn", { msg: "redis history read failed", roomId, error: redisErr.message });
      return null;
    });
    // Nothing whole to serve: the request fails as Postgres failed it (503), never with a gap.
    if (!cached) throw err;
    logJson("warn", { msg: "history served from the Redis buffer: Postgres unavailable", roomId });
    return { source: "redis", version: null, messages: cached };
  }
}

/** The page and the room's version in one READ ONLY, REPEATABLE READ transaction (one snapshot). */
async function fromPostgres(
  env: Bindings,
  roomId: string,
  viewerId: string,
  q: HistoryQuery,
): Promise<{ version: number; messages: MessageState[] }> {
  const db = createSnapshotDb(env);
  const forward = q.after !== undefined;
  const [room, rows] = await db.batch([
    db.select({ version: rooms.version }).from(rooms).where(eq(rooms.id, roomId)),
    db
      .select({ message: messages, ...messageStateColumns(viewerId) })
      .from(messages)
      .where(
        and(
          eq(messages.roomId, roomId),
          q.before !== undefined ? lt(messages.seq, q.before) : undefined,
          q.after !== undefined ? gt(messages.seq, q.after) : undefined,
        ),
      )
      .orderBy(forward ? asc(messages.seq) : desc(messages.seq))
      .limit(q.limit),
  ]);
  const [found] = room;
  if (!found) throw notFound(); // deleted since the membership check
  return { version: found.version, messages: rows.map(({ message, ...agg }) => toMessageState(message, agg)) };
}

async function fromRedis(
  env: Bindings,
  roomId: string,
  q: HistoryQuery,
  knownLastSeq: number,
): Promise<MessageView[] | null> {
  if (!redisConfigured(env)) return null;
  const window = await withRedis(
    env,
    async (redis) => {
      const buffer = new RecentBuffer(redis, roomId, recentBufferLimits(env));
      if (q.after !== undefined) {
        // Forward pages need the whole window, since Redis cannot tell "not yet sent" from "missing".
        return buffer.window(q.after + 1, q.after + q.limit);
      }
      const hi = q.before !== undefined ? q.before - 1 : (await buffer.bounds())?.max;
      if (hi === undefined) return null;
      // The newest page must be the newest: a buffer that missed the latest writes is not used for it.
      if (q.before === undefined && hi < knownLastSeq) return null;
      const lo = Math.max(1, hi - q.limit + 1);
      return (await buffer.window(lo, Math.max(0, hi)))?.reverse() ?? null;
    },
    { retries: 0 },
  );
  return window?.map((m) => ({ ...m, kind: m.kind ?? "regular" })) ?? null;
}
