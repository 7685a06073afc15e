/**
 * Integrations (issue 27): a `kind: "system"` message posted by a server through an API key. The worker
 * vouches for the key and its room; here it is a message like any other (next seq, next version, outbox,
 * buffer), deduplicated on the poster's clientMsgId forever, never throttled (the REST rate limit per key
 * applies before it) and, as a system message, notifying nobody.
 */
import type { NoticeCommand, SendResult } from "../../protocol/room-rpc";
import { type CommandContext, type Decision, decided } from "./effects";

export function notice(ctx: CommandContext, cmd: NoticeCommand): Decision<SendResult> {
  const { store, settings, actor, roomId, now } = ctx;
  const existing = store.seqForClientId(actor.userId, cmd.clientMsgId);
  if (existing !== null) {
    return decided({ status: "duplicate", seq: existing, message: store.messageInRing(existing, roomId) });
  }
  const message = store.insertMessage(
    {
      senderId: actor.userId,
      clientMsgId: cmd.clientMsgId,
      body: cmd.body,
      replyTo: null,
      createdAt: new Date(now).toISOString(),
      kind: "system",
      system: { event: "notice", by: actor.userId },
      ...(cmd.custom ? { custom: cmd.custom } : {}),
    },
    roomId,
  );
  const created = store.logChange({ type: "message", ...message }, message.seq, now);
  store.enqueue("message", message.seq, { message, requestId: actor.requestId }, now, created.v);
  store.trimRing(settings.ringSize);
  return decided(
    { status: "accepted", message },
    { broadcast: [created], buffer: [message], outbox: true, counters: ["edgechat_messages_accepted_total"] },
  );
}
