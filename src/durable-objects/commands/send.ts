import type { SendMessage } from "../../protocol/frames";
import type { SendResult } from "../../protocol/room-rpc";
import { decide } from "../throttle";
import { type CommandContext, type Decision, decided } from "./effects";

/**
 * A new message: deduplicated by the sender's clientMsgId (forever), throttled by the sliding window,
 * then given the next seq with its outbox row in the same transaction.
 */
export function send(ctx: CommandContext, input: SendMessage): Decision<SendResult> {
  const { store, settings, actor, roomId, now } = ctx;
  const existing = store.seqForClientId(actor.userId, input.clientMsgId);
  if (existing !== null) {
    return decided({ status: "duplicate", seq: existing, message: store.messageInRing(existing, roomId) });
  }
  const limits = settings.throttle;
  const decision = decide(store.throttleWindow(actor.userId, now - limits.windowMs, limits.messages), now, limits);
  if (!decision.allowed) {
    store.logSend(actor.userId, now, true);
    store.bump("throttle_hits");
    return decided(
      { status: "throttled", retryAfterMs: decision.retryAfterMs },
      { counters: ["edgechat_messages_throttled_total"] },
    );
  }
  if (input.replyTo !== undefined && !store.messageState(input.replyTo)) {
    return decided({
      status: "rejected",
      code: "unprocessable",
      message: `replyTo ${input.replyTo} is not a message in this room`,
    });
  }
  const files = input.attachments?.length
    ? store.claimAttachments(input.attachments, actor.userId, store.lastSeq() + 1, settings.claimableAfter(now))
    : [];
  if (files === null) {
    return decided({
      status: "rejected",
      code: "unprocessable",
      message: "an attachment is not yours, not uploaded to this room, already sent, or expired",
    });
  }
  const message = store.insertMessage(
    {
      senderId: actor.userId,
      clientMsgId: input.clientMsgId,
      body: input.body,
      replyTo: input.replyTo ?? null,
      createdAt: new Date(now).toISOString(),
      ...(files.length ? { attachments: files } : {}),
      ...(input.custom ? { custom: input.custom } : {}),
    },
    roomId,
  );
  const frame = store.logChange({ type: "message", ...message }, message.seq, now);
  store.enqueue("message", message.seq, { message, requestId: actor.requestId }, now, frame.v);
  store.logSend(actor.userId, now, false);
  store.trimRing(settings.ringSize);
  return decided(
    { status: "accepted", message },
    {
      broadcast: [frame],
      buffer: [message],
      outbox: true,
      counters: ["edgechat_messages_accepted_total"],
    },
  );
}
