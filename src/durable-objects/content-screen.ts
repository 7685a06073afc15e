/**
 * What a message body must pass before the room stores it: the deployment's content rules (a blocklist
 * with reject or mask per rule; src/lib/content-rules.ts) and, if configured, the before-send moderation
 * webhook (allow, reject or replace; src/lib/moderation-webhook.ts). The rules are read from Postgres at
 * most once per CONTENT_RULES_REFRESH_MS per room object and kept compiled in memory, so a message costs a
 * matcher pass (measured in docs/decisions.md), not a query; a failed read keeps the rules it had. The
 * webhook is one HTTP call per message, only when configured, with its latency in the metrics.
 */
import { createDb } from "../db/client";
import { loadMatcher } from "../db/content-rules";
import { positiveSetting } from "../lib/config";
import { applyRules, type ContentMatcher, NO_RULES } from "../lib/content-rules";
import { withDeadline } from "../lib/deadline";
import { logJson } from "../lib/log";
import { inc, observe } from "../lib/metrics";
import { checkWithWebhook, moderationWebhookEnabled } from "../lib/moderation-webhook";
import type { Actor } from "../protocol/identity";
import type { Rejected, RoomCommand } from "../protocol/room-rpc";
import type { RoomStore } from "./room-store";

const RULES_READ_TIMEOUT_MS = 2000;

export type Screened = { ok: true; body: string } | { ok: false; rejected: Rejected };

export class ContentScreen {
  private matcher: ContentMatcher = NO_RULES;
  private readAt = 0;
  private reading: Promise<void> | null = null;
  private readonly env: () => Env;

  constructor(env: () => Env) {
    this.env = env;
  }

  /** Refreshes the rules when they are older than the refresh interval (waits for a read in progress). */
  private async rules(): Promise<ContentMatcher> {
    const env = this.env();
    if (Date.now() - this.readAt >= positiveSetting(env, "CONTENT_RULES_REFRESH_MS")) {
      this.reading ??= withDeadline(RULES_READ_TIMEOUT_MS, (signal) => loadMatcher(createDb(env, { signal })))
        .then((matcher) => {
          this.matcher = matcher;
          this.readAt = Date.now();
        })
        .catch((err: Error) => {
          // Keep the rules we had; try again on a later message, not on every one.
          this.readAt = Date.now() - positiveSetting(env, "CONTENT_RULES_REFRESH_MS") / 2;
          logJson("warn", { msg: "content rules unavailable; keeping the last ones", error: err.message });
        })
        .finally(() => {
          this.reading = null;
        });
      await this.reading;
    }
    return this.matcher;
  }

  /** The body the room may store (masked or replaced), or the refusal. Never throws. */
  async screen(check: { roomId: string; senderId: string; body: string; kind: "send" | "edit"; seq?: number }) {
    const verdict = applyRules(await this.rules(), check.body);
    if (verdict.action === "reject") {
      inc("edgechat_content_rejected_total", { by: "rules" });
      return refused("content_rejected", "the message breaks this deployment's content rules");
    }
    let body = verdict.action === "mask" ? verdict.text : check.body;
    if (verdict.action === "mask") inc("edgechat_content_masked_total");
    const env = this.env();
    if (!moderationWebhookEnabled(env) || body.trim().length === 0) return { ok: true, body } as Screened;
    const result = await checkWithWebhook(env, { ...check, body });
    observe("edgechat_moderation_webhook_seconds", { outcome: result.outcome }, result.latencyMs / 1000);
    if (result.verdict.action === "reject") {
      inc("edgechat_content_rejected_total", { by: "webhook" });
      const { code, reason } = result.verdict;
      return refused(
        code,
        code === "moderation_unavailable"
          ? "moderation is unavailable right now; try again"
          : `the message was refused by moderation${reason ? `: ${reason}` : ""}`,
      );
    }
    if (result.verdict.action === "replace") body = result.verdict.body;
    return { ok: true, body } as Screened;
  }
}

function refused(code: Rejected["code"], message: string): Screened {
  return { ok: false, rejected: { status: "rejected", code, message } };
}

/**
 * The command as the room may run it: sends and edits with text go through the screen (their body
 * masked or replaced), or are refused; anything else, and a resend of a message already stored, as is.
 */
export async function screenCommand<C extends RoomCommand>(
  screen: ContentScreen,
  store: RoomStore,
  actor: Actor,
  command: C,
): Promise<C | Rejected> {
  if (command.type !== "send" && command.type !== "edit") return command;
  if (command.body.trim().length === 0) return command;
  // A resend is answered with the original, and a muted member is refused: neither needs screening.
  if (command.type === "send" && store.seqForClientId(actor.userId, command.clientMsgId) !== null) return command;
  if (store.isMuted(actor.userId, Date.now())) return command;
  const screened = await screen.screen({
    roomId: actor.roomId,
    senderId: actor.userId,
    body: command.body,
    kind: command.type,
    ...(command.type === "edit" ? { seq: command.seq } : {}),
  });
  return screened.ok ? { ...command, body: screened.body } : screened.rejected;
}
