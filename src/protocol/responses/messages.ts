/** Messages as REST answers carry them (the same view the room's `message` frames carry). */
import { z } from "zod";
import { customData } from "../frames";
import { id, nextCursor, role, seq, timestamp } from "./common";

export const attachmentRef = z.object({ id, filename: z.string(), contentType: z.string(), size: z.number().int() });

export const messageKind = z.enum(["regular", "system"]);

/** What a system message records (who did what), besides its readable body. */
export const systemEvent = z.union([
  z.object({ event: z.enum(["joined", "left"]), userId: id }),
  z.object({ event: z.enum(["removed", "banned"]), userId: id, by: id }),
  z.object({ event: z.literal("role"), userId: id, role, by: id }),
  z.object({ event: z.literal("renamed"), name: z.string(), by: id }),
  z.object({ event: z.literal("topic"), topic: z.string().nullable(), by: id }),
  /** Integrations: text a server posted through an API key; `by` is the key's principal. */
  z.object({ event: z.literal("notice"), by: id }),
]);

/** Deleted messages keep their seq with a null body (a tombstone) and lose their files and custom data. */
export const messageView = z.object({
  roomId: id,
  seq,
  senderId: id,
  clientMsgId: z.string(),
  body: z.string().nullable(),
  replyTo: seq.nullable(),
  createdAt: timestamp,
  editedAt: timestamp.nullable(),
  deletedAt: timestamp.nullable(),
  /** Only present when the message carries files (download: GET /api/attachments/:id). */
  attachments: z.array(attachmentRef).optional(),
  /** Absent means "regular". */
  kind: messageKind.optional(),
  /** Only on system messages: the structured event the body describes. */
  system: systemEvent.optional(),
  /** The sender's custom data, if any (a JSON object). */
  custom: customData.optional(),
});

/** One emoji on a message: how many members used it, and whether the caller is one of them. */
export const reactionCount = z.object({ emoji: z.string(), count: z.number().int().min(1), mine: z.boolean() });
export type ReactionCount = z.infer<typeof reactionCount>;

/**
 * A message with everything a client renders about it, read from Postgres in one snapshot: reactions
 * (per emoji, in the order each was first used), replies (messages answering it that are not deleted),
 * whether it is pinned.
 */
export const messageState = messageView.extend({
  kind: messageKind,
  reactions: z.array(reactionCount),
  replyCount: z.number().int().min(0),
  /** When the newest reply was sent; null without replies. */
  lastReplyAt: timestamp.nullable(),
  pinned: z.boolean(),
  /** Only on messages by someone the viewer blocks: nothing of them is shown (body null). */
  hidden: z.literal(true).optional(),
});
export type MessageState = z.infer<typeof messageState>;

/** The room's change-log version a reply reflects: catch up with the changes after it (`?since=`). */
export const roomVersion = z.number().int().min(0);
const version = roomVersion;

/** Keyset cursors: pass `nextBefore` back as `before` (newest-first pages) or `nextAfter` as `after`. */
const cursors = {
  nextBefore: seq.nullable().optional(),
  nextAfter: seq.nullable().optional(),
};

/**
 * A history page. From Postgres (always, while it answers): every message's whole state and the version
 * the page reflects, read in one snapshot, so loading it and then catching up from `version` misses
 * nothing and repeats nothing. From the Redis buffer (only when Postgres failed mid-request and Redis holds
 * the whole range): the messages as the room last wrote them, without reactions, replies or pins, and no
 * version; such a page is provisional, to be replaced by a Postgres page.
 */
export const historyPage = z.discriminatedUnion("source", [
  z.object({ source: z.literal("postgres"), version, messages: z.array(messageState), ...cursors }),
  z.object({ source: z.literal("redis"), version: z.null(), messages: z.array(messageView), ...cursors }),
]);

export const sentReply = z.object({ message: messageView });
/** A resend of a clientMsgId already accepted; the message is only `{ roomId, seq }` while Postgres has not caught up. */
export const resentReply = z.object({
  message: z.union([messageView, z.object({ roomId: id, seq })]),
  duplicate: z.literal(true),
});
export const editedReply = z.object({ seq, body: z.string() });
export const pinsReply = z.object({
  pins: z.array(z.object({ message: messageState, pinnedBy: id.nullable(), pinnedAt: timestamp })),
  /** The room version the pins and their messages reflect. */
  version,
});
export const threadReply = z.object({
  root: messageState,
  replies: z.array(messageState),
  nextAfter: seq.nullable(),
  /** The room version the thread reflects. */
  version,
});
/** Snippets are HTML-safe: the body is escaped before `<mark>` tags go around the matches. */
export const searchReply = z.object({
  results: z.array(z.object({ message: messageState, snippet: z.string() })),
  nextCursor,
});
