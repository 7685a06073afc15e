import type { CommandResult, RoomCommand } from "../../protocol/room-rpc";
import { edit, pin, react, read, remove } from "./changes";
import type { CommandContext, Decision } from "./effects";
import { erase, tombstone } from "./erasure";
import { member, updateRoom } from "./membership";
import { blocks, purge } from "./moderation";
import { notice } from "./notice";
import { send } from "./send";

export type { CommandContext, Decision, Effects } from "./effects";

/**
 * Runs one command in one SQLite transaction: everything it wrote commits together or not at all (a
 * throw rolls it back, seq and throttle caches included), and its effects are applied only after.
 */
export function runCommand<C extends RoomCommand>(ctx: CommandContext, command: C): Decision<CommandResult<C>> {
  return ctx.store.transaction(() => {
    const decision = decide(ctx, command);
    ctx.store.trimChanges(ctx.settings.changeLogSize);
    return decision;
  }) as Decision<CommandResult<C>>;
}

function decide(ctx: CommandContext, command: RoomCommand): Decision<CommandResult> {
  switch (command.type) {
    case "send": {
      const { type: _type, ...input } = command;
      return send(ctx, input);
    }
    case "edit":
      return edit(ctx, command.seq, command.body);
    case "delete":
      return remove(ctx, command.seq);
    case "react":
      return react(ctx, command.seq, command.emoji, command.on);
    case "pin":
      return pin(ctx, command.seq, command.on);
    case "read":
      return read(ctx, command.seq);
    case "member":
      return member(ctx, command);
    case "room":
      return updateRoom(ctx, command);
    case "purge":
      return purge(ctx, command.userId);
    case "blocks":
      return blocks(ctx, command.pairs, command.on, command.direct === true);
    case "notice":
      return notice(ctx, command);
    case "tombstone":
      return tombstone(ctx, command.seqs);
    case "erase":
      return erase(ctx, command.userId, command.messages, command.reactions);
  }
}
