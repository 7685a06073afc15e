/** Messages as REST answers carry them (the same view the room's `message` frames carry). */
import { z } from "zod";
import { id, nextCursor, seq, timestamp } from "./common";

export const attachmentRef = z.object({ id, filename: z.string(), contentType: z.string(), size: z.number().int() });

/** Deleted messages keep their seq with a null body (a tombstone). */
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
});

/** Keyset cursors: pass `nextBefore` back as `before` (newest-first pages) or `nextAfter` as `after`. */
export const historyPage = z.object({
  messages: z.array(messageView),
  nextBefore: seq.nullable().optional(),
  nextAfter: seq.nullable().optional(),
});

export const sentReply = z.object({ message: messageView });
/** A resend of a clientMsgId already accepted; the message is only `{ roomId, seq }` while Postgres has not caught up. */
export const resentReply = z.object({
  message: z.union([messageView, z.object({ roomId: id, seq })]),
  duplicate: z.literal(true),
});
export const editedReply = z.object({ seq, body: z.string() });
export const pinsReply = z.object({
  pins: z.array(z.object({ message: messageView, pinnedBy: id.nullable(), pinnedAt: timestamp })),
});
export const threadReply = z.object({
  root: messageView,
  replies: z.array(messageView),
  nextAfter: seq.nullable(),
});
/** Snippets are HTML-safe: the body is escaped before `<mark>` tags go around the matches. */
export const searchReply = z.object({
  results: z.array(z.object({ message: messageView, snippet: z.string() })),
  nextCursor,
});
