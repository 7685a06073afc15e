import type { SendMessage } from "../../protocol/frames";
import type { SendResult } from "../../protocol/room-rpc";
import { decide } from "../throttle";
import { type CommandContext, type Decision, decided, isModerator, refusedWhileMuted } from "./effects";
import { postMessage } from "./post-message";

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
  const muted = refusedWhileMuted<SendResult>(ctx);
  if (muted) return muted;
  if (store.getMeta("direct") === "1" && store.isInBlock(actor.userId)) {
    return decided({ status: "rejected", code: "blocked", message: "you can't message this person" });
  }
  const limits = settings.throttle;
  const decision = decide(store.throttleWindow(actor.userId, now - limits.windowMs, limits.messages), now, limits);
  const slowMs = slowModeWait(ctx);
  if (!decision.allowed || slowMs > 0) {
    store.logSend(actor.userId, now, true);
    store.bump("throttle_hits");
    const rate = decision.allowed ? 0 : decision.retryAfterMs;
    return decided(
      { status: "throttled", retryAfterMs: Math.max(rate, slowMs), reason: slowMs > rate ? "slow_mode" : "rate" },
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
  const { message, frame } = postMessage(
    ctx,
    {
      senderId: actor.userId,
      clientMsgId: input.clientMsgId,
      body: input.body,
      replyTo: input.replyTo ?? null,
      ...(files.length ? { attachments: files } : {}),
      ...(input.custom ? { custom: input.custom } : {}),
    },
    actor.requestId,
  );
  store.logSend(actor.userId, now, false);
  if (slowModeSeconds(ctx) > 0) store.setLastSent(actor.userId, now);
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

function slowModeSeconds(ctx: CommandContext): number {
  return Number(ctx.store.getMeta("slowModeSeconds") ?? 0);
}

/** How long slow mode still holds this member back (0: free to send); owners and admins are exempt. */
function slowModeWait(ctx: CommandContext): number {
  const seconds = slowModeSeconds(ctx);
  if (seconds <= 0 || isModerator(ctx.actor)) return 0;
  const last = ctx.store.lastSentAt(ctx.actor.userId);
  return last === null ? 0 : Math.max(0, last + seconds * 1000 - ctx.now);
}
