/** Moderators' commands beyond one message: deleting all of a member's messages, and blocks. */
import type { ChangeResult } from "../../protocol/room-rpc";
import { type CommandContext, type Decision, decided, effects, isModerator } from "./effects";

/**
 * Every message of `userId` in the room, deleted in one action: each is a `deleted` change of its own,
 * so clients catching up learn of every one. Owners and admins only.
 */
export function purge(ctx: CommandContext, userId: string): Decision<ChangeResult> {
  const { store, actor, now, roomId } = ctx;
  if (!isModerator(actor)) {
    return decided({ status: "rejected", code: "forbidden", message: "only a room owner or admin can do this" });
  }
  const deletedAt = new Date(now).toISOString();
  const out = effects({ outbox: true });
  const seqs = store.liveSeqsOf(userId);
  for (const seq of seqs) {
    store.deleteMessage(seq, now);
    const frame = store.logChange({ type: "deleted", seq, deletedAt }, seq, now);
    store.enqueue("delete", seq, { seq, deletedAt }, now, frame.v);
    out.broadcast.push(frame);
    const changed = store.messageInRing(seq, roomId);
    if (changed) out.buffer.push(changed);
  }
  if (seqs.length === 0) out.outbox = false;
  return { result: { status: "ok", count: seqs.length }, effects: out };
}

/** Blocks among members: not changes to the room (nobody else may learn of them), only what it hides. */
export function blocks(
  ctx: CommandContext,
  pairs: [string, string][],
  on: boolean,
  direct: boolean,
): Decision<ChangeResult> {
  if (direct && ctx.store.getMeta("direct") !== "1") ctx.store.setMeta("direct", 1);
  const changed = ctx.store.setBlocks(pairs, on);
  return decided({ status: "ok", count: changed }, { blocksChanged: changed > 0 });
}
