import { sql } from "drizzle-orm";
import type { MessageView } from "../protocol/frames";
import type { MessageState, ReactionCount } from "../protocol/responses/messages";
import { userBlocks } from "./moderation-schema";
import { type Message, messageReactions, messages, pins } from "./schema";

/**
 * A Postgres message row as clients see it: tombstones keep their seq and lose their text, files and
 * custom data. `kind` is only present on system messages (absent means regular, as in the room's frames).
 */
export function toMessageView(row: Message): MessageView {
  const deleted = row.deletedAt !== null;
  return {
    roomId: row.roomId,
    seq: row.seq,
    senderId: row.senderId,
    clientMsgId: row.clientMsgId,
    body: deleted ? null : row.body,
    replyTo: row.replyTo,
    createdAt: row.createdAt.toISOString(),
    editedAt: row.editedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    ...(row.attachments?.length && !deleted ? { attachments: row.attachments } : {}),
    ...(row.kind === "system" ? { kind: "system" as const } : {}),
    ...(row.system ? { system: row.system } : {}),
    ...(row.custom && !deleted ? { custom: row.custom } : {}),
  };
}

/**
 * What REST reads add to each message of a `select … from messages`: correlated subqueries, so they are
 * part of the statement (and of its snapshot) and cost an index lookup per message of the page.
 * Reactions are per emoji, in the order the emoji was first used; `mine` is the viewer's own reaction.
 * Replies are the messages answering this one that are not deleted.
 */
export function messageStateColumns(viewerId: string) {
  // Spelled out: drizzle leaves a column unqualified in a single-table select, and an unqualified room_id
  // inside these subqueries would name the subquery's own column.
  const roomId = sql.raw(`"messages"."room_id"`);
  const seq = sql.raw(`"messages"."seq"`);
  // Whom the viewer blocks: their messages are hidden and their reactions and replies not counted, for
  // this viewer (live, a hidden stand-in says nothing of what it is, so reloads must agree).
  const blockedByViewer = (user: ReturnType<typeof sql.raw>) =>
    sql`exists (select 1 from ${userBlocks} as b where b.blocker_id = ${viewerId}::uuid and b.blocked_id = ${user})`;
  const replies = sql`from ${messages} as reply
    where reply.room_id = ${roomId} and reply.reply_to = ${seq} and reply.deleted_at is null
      and not ${blockedByViewer(sql.raw("reply.sender_id"))}`;
  return {
    hidden: sql<boolean>`${blockedByViewer(sql.raw(`"messages"."sender_id"`))}`,
    reactions: sql<ReactionCount[]>`(select coalesce(json_agg(json_build_object('emoji', r.emoji, 'count', r.n,
        'mine', r.mine) order by r.first_at, r.emoji), '[]'::json)
      from (select x.emoji, count(*)::int as n, bool_or(x.user_id = ${viewerId}::uuid) as mine,
          min(x.created_at) as first_at
        from ${messageReactions} as x
        where x.room_id = ${roomId} and x.seq = ${seq} and not ${blockedByViewer(sql.raw("x.user_id"))}
        group by x.emoji) as r)`,
    replyCount: sql<number>`(select count(*)::int ${replies})`,
    lastReplyAt: sql<Date | null>`(select max(reply.created_at) ${replies})`.mapWith(messages.createdAt),
    pinned: sql<boolean>`exists (select 1 from ${pins} as p where p.room_id = ${roomId} and p.seq = ${seq})`,
  };
}

export type MessageAggregates = {
  hidden: boolean;
  reactions: ReactionCount[];
  replyCount: number;
  lastReplyAt: Date | null;
  pinned: boolean;
};

/** A message with everything a client renders about it, as of the snapshot the aggregates were read in. */
export function toMessageState(row: Message, agg: MessageAggregates): MessageState {
  if (agg.hidden) return hiddenState(row);
  return {
    ...toMessageView(row),
    kind: row.kind ?? "regular",
    reactions: agg.reactions,
    replyCount: agg.replyCount,
    lastReplyAt: agg.lastReplyAt?.toISOString() ?? null,
    pinned: agg.pinned,
  };
}

/** A message by someone the viewer blocks: its place in the sequence, nothing of what it says. */
function hiddenState(row: Message): MessageState {
  return {
    roomId: row.roomId,
    seq: row.seq,
    senderId: row.senderId,
    clientMsgId: "",
    body: null,
    replyTo: null,
    createdAt: row.createdAt.toISOString(),
    editedAt: null,
    deletedAt: null,
    kind: row.kind ?? "regular",
    reactions: [],
    replyCount: 0,
    lastReplyAt: null,
    pinned: false,
    hidden: true,
  };
}
