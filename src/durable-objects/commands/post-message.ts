/**
 * The one way a command creates a message (a member's send, a server's notice, the room's own system
 * message): the next seq, the change that announces it with the next version, its outbox row for Postgres,
 * and the ring trimmed to size, all in the command's transaction.
 */
import type { MessageView } from "../../protocol/frames";
import type { CommandContext } from "./effects";

export type NewMessage = Omit<MessageView, "seq" | "roomId" | "createdAt" | "editedAt" | "deletedAt">;

/** `requestId`: carried to the write-through's logs when a request caused the message. */
export function postMessage(ctx: CommandContext, fields: NewMessage, requestId?: string) {
  const { store, settings, roomId, now } = ctx;
  const message = store.insertMessage({ ...fields, createdAt: new Date(now).toISOString() }, roomId);
  const frame = store.logChange({ type: "message", ...message }, message.seq, now);
  store.enqueue("message", message.seq, requestId ? { message, requestId } : { message }, now, frame.v);
  store.trimRing(settings.ringSize);
  return { message, frame };
}
