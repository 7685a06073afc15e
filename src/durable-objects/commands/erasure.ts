/**
 * Integrations (issue 27), data rights and retention: commands the worker gives a room, never a member.
 * - `tombstone`: retention. Messages past the room's lifetime become tombstones, each a `deleted` change of
 *   its own, so clients catching up learn of every one and seq stays gapless; already-deleted ones and
 *   unknown seqs are skipped, so a retried run changes nothing twice.
 * - `erase`: account deletion. The user's reactions are removed (each a `reaction` change, off), their
 *   messages tombstoned when the deployment's policy deletes them, and their blocks forgotten. Leaving the
 *   room is recorded separately, by the worker, after Postgres (see erasure in src/worker/integrations).
 */
import type { ChangeResult } from "../../protocol/room-rpc";
import { type CommandContext, type Decision, type Effects, effects } from "./effects";

/** Most seqs one command takes (one transaction): the worker sends longer lists in several. */
export const MAX_TOMBSTONES = 500;

function tombstoneInto(ctx: CommandContext, seqs: number[], out: Effects): number {
  const { store, now, roomId } = ctx;
  const deletedAt = new Date(now).toISOString();
  let count = 0;
  for (const seq of [...new Set(seqs)].sort((a, b) => a - b).slice(0, MAX_TOMBSTONES)) {
    const state = store.messageState(seq);
    if (!state || state.deleted) continue;
    store.deleteMessage(seq, now);
    const frame = store.logChange({ type: "deleted", seq, deletedAt }, seq, now);
    store.enqueue("delete", seq, { seq, deletedAt }, now, frame.v);
    out.broadcast.push(frame);
    const changed = store.messageInRing(seq, roomId);
    if (changed) out.buffer.push(changed);
    count++;
  }
  return count;
}

export function tombstone(ctx: CommandContext, seqs: number[]): Decision<ChangeResult> {
  const out = effects();
  const count = tombstoneInto(ctx, seqs, out);
  out.outbox = count > 0;
  return { result: { status: "ok", count }, effects: out };
}

export function erase(
  ctx: CommandContext,
  userId: string,
  messages: boolean,
  reactions: { seq: number; emoji: string }[],
): Decision<ChangeResult> {
  const { store, now } = ctx;
  const out = effects();
  let count = messages ? tombstoneInto(ctx, store.liveSeqsOf(userId, true), out) : 0;
  for (const { seq, emoji } of reactions) {
    if (!store.setReaction(seq, userId, emoji, false)) continue;
    const frame = store.logChange({ type: "reaction", seq, userId, emoji, on: false }, seq, now);
    store.enqueue("reaction", seq, { seq, userId, emoji, on: false }, now, frame.v);
    out.broadcast.push(frame);
    count++;
  }
  const blocks = store.blocks().filter(([blocker, blocked]) => blocker === userId || blocked === userId);
  if (blocks.length > 0 && store.setBlocks(blocks, false) > 0) out.blocksChanged = true;
  out.outbox = count > 0;
  return { result: { status: "ok", count }, effects: out };
}
