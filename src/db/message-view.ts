import type { MessageView } from "../protocol/frames";
import type { Message } from "./schema";

/** A Postgres message row as clients see it: tombstones keep their seq and lose their text. */
export function toMessageView(row: Message): MessageView {
  return {
    roomId: row.roomId,
    seq: row.seq,
    senderId: row.senderId,
    clientMsgId: row.clientMsgId,
    body: row.deletedAt ? null : row.body,
    replyTo: row.replyTo,
    createdAt: row.createdAt.toISOString(),
    editedAt: row.editedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    ...(row.attachments?.length && !row.deletedAt ? { attachments: row.attachments } : {}),
  };
}
