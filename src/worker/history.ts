/**
 * Message history, keyset-paginated on seq. Pages come from Postgres, in one snapshot with the room's
 * version, so each message carries its whole state (reactions with the viewer's own, replies, pin) as of
 * that version and a client can load a page, then catch up from the version with nothing missed or twice.
 * The Redis buffer can give neither a version nor per-viewer state, so it only serves when Postgres fails
 * mid-request, and then only a range it holds whole (a page never has a gap), marked `version: null`.
 * See docs/decisions.md, "History pages come from one Postgres snapshot".
 */
import { and, asc, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { isUnavailable } from "../db/errors";
import { UUID } from "../db/membership";
import { messageStateColumns, toMessageState } from "../db/message-view";
import { messages, roomMembers, rooms, users } from "../db/schema";
import { createSnapshotDb } from "../db/snapshot";
import { recentBufferLimits } from "../lib/config";
import { logJson } from "../lib/log";
import { RecentBuffer } from "../lib/recent-buffer";
import { redisConfigured, withRedis } from "../lib/redis";
import type { MessageView } from "../protocol/frames";
import type { MessageState } from "../protocol/responses/messages";
import { notFound } from "./room-access";
import { roomStub } from "./rooms";
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
 * A member's page (issue 24: one Postgres round trip). The membership check rides in the page's own
 * snapshot, so a page costs one Postgres call instead of a membership query and then the page; a
 * non-member (or a banned account) is told 404 as for a room that does not exist. With Postgres away, the
 * room itself may vouch for the member (member-cache.ts), and the Redis buffer serves what it holds whole.
 */
export async function readHistory(
  env: Bindings,
  roomId: string,
  viewerId: string,
  q: HistoryQuery,
): Promise<HistoryPage> {
  try {
    const page = await fromPostgres(env, roomId, viewerId, q);
    if (!page) throw notFound();
    return { source: "postgres", ...page };
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    const vouched = await roomStub(env, roomId)
      .vouchedMember(viewerId)
      .catch(() => null);
    if (!vouched) throw err;
    const cached = await bufferedPage(env, roomId, q, vouched.lastSeq).catch((redisErr: Error) => {
      logJson("warn", { msg: "redis history read failed", roomId, error: redisErr.message });
      return null;
    });
    // Nothing whole to serve: the request fails as Postgres failed it (503), never with a gap.
    if (!cached) throw err;
    logJson("warn", { msg: "history served from the Redis buffer: Postgres unavailable", roomId });
    return { source: "redis", version: null, messages: cached };
  }
}

/**
 * The page and the room's version in one READ ONLY, REPEATABLE READ transaction (one snapshot), with the
 * viewer's membership in the same batch. Null: no such room, or not a member of it.
 */
async function fromPostgres(
  env: Bindings,
  roomId: string,
  viewerId: string,
  q: HistoryQuery,
): Promise<{ version: number; messages: MessageState[] } | null> {
  if (!UUID.test(roomId) || !UUID.test(viewerId)) return null;
  const db = createSnapshotDb(env);
  const forward = q.after !== undefined;
  const [room, rows] = await db.batch([
    db
      .select({ version: rooms.version })
      .from(rooms)
      .innerJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, viewerId)))
      .innerJoin(users, and(eq(users.id, roomMembers.userId), isNull(users.bannedAt)))
      .where(eq(rooms.id, roomId)),
    db
      .select({ message: messages, ...messageStateColumns(viewerId) })
      .from(messages)
      .where(
        and(
          eq(messages.roomId, roomId),
          q.before !== undefined ? lt(messages.seq, q.before) : undefined,
          q.after !== undefined ? gt(messages.seq, q.after) : undefined,
          // No page for a non-member: the rows are never read, not merely never sent.
          sql`exists (select 1 from ${roomMembers} where ${roomMembers.roomId} = ${roomId}::uuid and ${roomMembers.userId} = ${viewerId}::uuid)`,
        ),
      )
      .orderBy(forward ? asc(messages.seq) : desc(messages.seq))
      .limit(q.limit),
  ]);
  const [found] = room;
  if (!found) return null;
  return { version: found.version, messages: rows.map(({ message, ...agg }) => toMessageState(message, agg)) };
}

/**
 * A page from the Redis buffer, only where it holds the range whole; null otherwise. `knownLastSeq`: the
 * room's last seq; a newest page older than it is not served.
 */
export async function bufferedPage(
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
