/** Commands that change an existing message or a member's read mark. */
import type { ChangeResult, Rejected } from "../../protocol/room-rpc";
import { type CommandContext, type Decision, decided, isModerator, refusedWhileMuted } from "./effects";

const OK = { status: "ok" } as const;

function rejected(code: Rejected["code"], message: string): Decision<ChangeResult> {
  return decided({ status: "rejected", code, message });
}

export function edit(ctx: CommandContext, seq: number, body: string): Decision<ChangeResult> {
  const { store, actor, now, roomId } = ctx;
  const muted = refusedWhileMuted<ChangeResult>(ctx);
  if (muted) return muted;
  const state = store.messageState(seq);
  if (!state) return rejected("not_found", `no message ${seq}`);
  if (state.system) return rejected("conflict", "the room's notices cannot be edited");
  if (state.senderId !== actor.userId) return rejected("forbidden", "only the sender can edit a message");
  if (state.deleted) return rejected("conflict", "the message was deleted");
  const editedAt = new Date(now).toISOString();
  store.editMessage(seq, body, now);
  const frame = store.logChange({ type: "edited", seq, body, editedAt }, seq, now);
  store.enqueue("edit", seq, { seq, body, editedAt }, now, frame.v);
  const changed = store.messageInRing(seq, roomId);
  return decided(OK, {
    broadcast: [frame],
    buffer: changed ? [changed] : [],
    outbox: true,
  });
}

/** The sender deletes their own message; a room owner or admin deletes anyone's. Deleting twice is ok. */
export function remove(ctx: CommandContext, seq: number): Decision<ChangeResult> {
  const { store, actor, now, roomId } = ctx;
  const state = store.messageState(seq);
  if (!state) return rejected("not_found", `no message ${seq}`);
  // The room's own notices ("Ana joined") are the room's: only its owners and admins remove them.
  if ((state.senderId !== actor.userId || state.system) && !isModerator(actor)) {
    return rejected("forbidden", "only the sender or a room admin can delete a message");
  }
  if (state.deleted) return decided(OK);
  const deletedAt = new Date(now).toISOString();
  store.deleteMessage(seq, now);
  const frame = store.logChange({ type: "deleted", seq, deletedAt }, seq, now);
  store.enqueue("delete", seq, { seq, deletedAt }, now, frame.v);
  const changed = store.messageInRing(seq, roomId);
  return decided(OK, {
    broadcast: [frame],
    buffer: changed ? [changed] : [],
    outbox: true,
  });
}

export function react(ctx: CommandContext, seq: number, emoji: string, on: boolean): Decision<ChangeResult> {
  const { store, actor, now } = ctx;
  const muted = refusedWhileMuted<ChangeResult>(ctx);
  if (muted) return muted;
  const state = store.messageState(seq);
  if (!state) return rejected("not_found", `no message ${seq}`);
  if (state.deleted && on) return rejected("conflict", "the message was deleted");
  if (!store.setReaction(seq, actor.userId, emoji, on)) return decided(OK);
  const frame = store.logChange({ type: "reaction", seq, userId: actor.userId, emoji, on }, seq, now);
  store.enqueue("reaction", seq, { seq, userId: actor.userId, emoji, on }, now, frame.v);
  return decided(OK, { broadcast: [frame], outbox: true });
}

/** Any member pins; unpinning is for whoever pinned it and room admins. */
export function pin(ctx: CommandContext, seq: number, on: boolean): Decision<ChangeResult> {
  const { store, actor, now } = ctx;
  const muted = refusedWhileMuted<ChangeResult>(ctx);
  if (muted) return muted;
  const state = store.messageState(seq);
  if (!state) return rejected("not_found", `no message ${seq}`);
  if (state.deleted && on) return rejected("conflict", "the message was deleted");
  const pinnedBy = store.pinnedBy(seq);
  if (!on && pinnedBy && pinnedBy !== actor.userId && !isModerator(actor)) {
    return rejected("forbidden", "only who pinned it or a room admin can unpin");
  }
  if (!store.setPin(seq, actor.userId, on, now)) return decided(OK);
  const frame = store.logChange({ type: "pinned", seq, userId: actor.userId, on }, seq, now);
  store.enqueue("pin", seq, { seq, userId: actor.userId, on, at: new Date(now).toISOString() }, now, frame.v);
  return decided(OK, { broadcast: [frame], outbox: true });
}

/** Read marks only move forward; a read past the room's last message is refused. */
export function read(ctx: CommandContext, seq: number): Decision<ChangeResult> {
  const { store, actor, now } = ctx;
  if (seq > store.lastSeq()) return rejected("unprocessable", `seq ${seq} is past the room's last message`);
  if (!store.advanceReadMark(actor.userId, seq)) return decided(OK);
  const frame = store.logChange({ type: "receipt", userId: actor.userId, seq }, seq, now);
  store.enqueue("read", seq, { userId: actor.userId, seq }, now, frame.v);
  return decided(OK, { broadcast: [frame], outbox: true });
}
