/**
 * Integrations (issue 27): a `kind: "system"` message posted by a server through an API key. The worker
 * vouches for the key and its room; here it is a message like any other (next seq, next version, outbox,
 * buffer), deduplicated on the poster's clientMsgId forever, never throttled (the REST rate limit per key
 * applies before it) and, as a system message, notifying nobody.
 */
import type { NoticeCommand, SendResult } from "../../protocol/room-rpc";
import { type CommandContext, type Decision, decided } from "./effects";
import { postMessage } from "./post-message";

export function notice(ctx: CommandContext, cmd: NoticeCommand): Decision<SendResult> {
  const { store, actor, roomId } = ctx;
  const existing = store.seqForClientId(actor.userId, cmd.clientMsgId);
  if (existing !== null) {
    return decided({ status: "duplicate", seq: existing, message: store.messageInRing(existing, roomId) });
  }
  const { message, frame: created } = postMessage(
    ctx,
    {
      senderId: actor.userId,
      clientMsgId: cmd.clientMsgId,
      body: cmd.body,
      replyTo: null,
      kind: "system",
      system: { event: "notice", by: actor.userId },
      ...(cmd.custom ? { custom: cmd.custom } : {}),
    },
    actor.requestId,
  );
  return decided(
    { status: "accepted", message },
    { broadcast: [created], buffer: [message], outbox: true, counters: ["edgechat_messages_accepted_total"] },
  );
}
