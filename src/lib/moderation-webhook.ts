/**
 * The before-send moderation webhook (MODERATION_WEBHOOK_URL): the room asks it about each message and it
 * answers `{"action": "allow"}`, `{"action": "reject", "reason"?: string}` or `{"action": "replace", "body":
 * string}` within MODERATION_WEBHOOK_TIMEOUT_MS. Anything else (no answer in time, a non-2xx status, an
 * answer that is not one of those, a refused connection, an endpoint the SSRF policy refuses) is a failure,
 * settled by MODERATION_WEBHOOK_FAILURE: "open" (the default) allows the message, "closed" rejects it with
 * `moderation_unavailable`. Never throws; says how long it took so the caller can record it.
 *
 * The request is `POST` JSON `{type: "message.check", checkId, roomId, senderId, body, …}`, signed exactly
 * like the notification webhooks (README, "Webhook signature") with MODERATION_WEBHOOK_SECRET, or
 * NOTIFY_WEBHOOK_SECRET when that is not set; `Edgechat-Delivery` carries the checkId.
 */
import { positiveSetting } from "./config.ts";
import { endpointProblem } from "./endpoint-policy.ts";
import { logJson } from "./log.ts";
import { signatureHeader } from "./webhook-signature.ts";

export interface ModerationWebhookEnv {
  MODERATION_WEBHOOK_URL?: string;
  MODERATION_WEBHOOK_TIMEOUT_MS?: string;
  MODERATION_WEBHOOK_FAILURE?: string;
  MODERATION_WEBHOOK_SECRET?: string;
  NOTIFY_WEBHOOK_SECRET?: string;
  ALLOW_LOOPBACK_ENDPOINTS?: string;
}

/** What the room asks about; `body` is what the sender wrote (after the content rules, if any masked). */
export interface ModerationCheck {
  roomId: string;
  senderId: string;
  body: string;
  /** "send" (the default) or "edit" of message `seq`. */
  kind?: "send" | "edit";
  seq?: number;
  clientMsgId?: string;
  replyTo?: number | null;
  attachments?: unknown[];
}

export type ModerationVerdict =
  | { action: "allow" }
  /** `code`: content_rejected when the webhook said no, moderation_unavailable when failing closed. */
  | { action: "reject"; code: "content_rejected" | "moderation_unavailable"; reason?: string }
  | { action: "replace"; body: string };

/** How the call went: `answered` is the only one where the webhook decided. */
export type ModerationOutcome =
  | "off"
  | "answered"
  | "timeout"
  | "bad_status"
  | "invalid_answer"
  | "network_error"
  | "refused_endpoint";

export interface ModerationResult {
  verdict: ModerationVerdict;
  outcome: ModerationOutcome;
  /** Wall time of the call in ms (0 when off or refused before any request). */
  latencyMs: number;
}

/** Replacement bodies obey the limits of a message body. */
export const MAX_REPLACEMENT_CHARS = 4000;
const MAX_REASON_CHARS = 500;
/** Answers longer than this are not read to the end (and count as invalid). */
const MAX_ANSWER_BYTES = 64 * 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function moderationWebhookEnabled(env: ModerationWebhookEnv): boolean {
  return Boolean(env.MODERATION_WEBHOOK_URL?.trim());
}

/** "closed" only when configured so, exactly (any other value, or none, fails open). */
export function failsClosed(env: ModerationWebhookEnv): boolean {
  return env.MODERATION_WEBHOOK_FAILURE?.trim().toLowerCase() === "closed";
}

class Timeout extends Error {}

export async function checkWithWebhook(
  env: ModerationWebhookEnv,
  check: ModerationCheck,
  fetchImpl: typeof fetch = fetch,
): Promise<ModerationResult> {
  const url = env.MODERATION_WEBHOOK_URL?.trim() ?? "";
  if (!url) return { verdict: { action: "allow" }, outcome: "off", latencyMs: 0 };
  const problem = endpointProblem(url, env.ALLOW_LOOPBACK_ENDPOINTS === "true");
  if (problem) return failed(env, check, "refused_endpoint", 0, `MODERATION_WEBHOOK_URL ${problem}`);

  const timeoutMs = positiveSetting(env, "MODERATION_WEBHOOK_TIMEOUT_MS");
  const checkId = crypto.randomUUID();
  const payload = JSON.stringify({
    type: "message.check",
    checkId,
    roomId: check.roomId,
    senderId: check.senderId,
    kind: check.kind ?? "send",
    seq: check.seq ?? null,
    clientMsgId: check.clientMsgId ?? null,
    body: check.body,
    replyTo: check.replyTo ?? null,
    attachments: check.attachments ?? [],
    at: new Date().toISOString(),
  });
  const secret = env.MODERATION_WEBHOOK_SECRET || env.NOTIFY_WEBHOOK_SECRET || "";
  const headers = {
    "content-type": "application/json",
    "user-agent": "edgechat-moderation/1",
    "edgechat-delivery": checkId,
    "edgechat-signature": await signatureHeader(secret, payload),
  };

  const started = Date.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Timeout(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  let status: number;
  let text: string | null;
  try {
    // The deadline covers the answer's body too, and holds even if fetchImpl ignores the signal.
    const exchange = fetchImpl(url, {
      method: "POST",
      headers,
      body: payload,
      signal: controller.signal,
      redirect: "manual",
    }).then(async (res) => ({ status: res.status, text: await readLimited(res) }));
    // After a timeout the aborted exchange still settles; nothing waits for it any more.
    exchange.catch(() => undefined);
    ({ status, text } = await Promise.race([exchange, deadline]));
  } catch (err) {
    const latencyMs = Date.now() - started;
    if (err instanceof Timeout) return failed(env, check, "timeout", latencyMs, err.message);
    return failed(env, check, "network_error", latencyMs, (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
  const latencyMs = Date.now() - started;
  if (status < 200 || status > 299) return failed(env, check, "bad_status", latencyMs, `answered ${status}`);
  const verdict = text === null ? null : parseVerdict(text);
  if (!verdict) return failed(env, check, "invalid_answer", latencyMs, "the answer is not a moderation verdict");
  return { verdict, outcome: "answered", latencyMs };
}

function failed(
  env: ModerationWebhookEnv,
  check: ModerationCheck,
  outcome: ModerationOutcome,
  latencyMs: number,
  why: string,
): ModerationResult {
  const closed = failsClosed(env);
  // Never the body or the URL (it may carry a token): the room and the outcome are enough to act on.
  logJson("warn", { msg: "moderation webhook failed", outcome, why, latencyMs, roomId: check.roomId, closed });
  const verdict: ModerationVerdict = closed
    ? { action: "reject", code: "moderation_unavailable", reason: "Moderation is unavailable; try again shortly" }
    : { action: "allow" };
  return { verdict, outcome, latencyMs };
}

/** The answer's text, or null when it is longer than MAX_ANSWER_BYTES (the rest is not read). */
async function readLimited(res: Response): Promise<string | null> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function isText(value: unknown, max: number, min = 0): value is string {
  return (
    typeof value === "string" &&
    value.length >= min &&
    value.length <= max &&
    !value.includes("\u0000") &&
    !LONE_SURROGATE.test(value)
  );
}

/** A verdict from the webhook's answer, or null when it is not one. Unknown extra fields are ignored. */
export function parseVerdict(text: string): ModerationVerdict | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return null;
  const answer = json as Record<string, unknown>;
  switch (answer.action) {
    case "allow":
      return { action: "allow" };
    case "reject":
      if (answer.reason === undefined || answer.reason === null) return { action: "reject", code: "content_rejected" };
      return isText(answer.reason, MAX_REASON_CHARS)
        ? { action: "reject", code: "content_rejected", reason: answer.reason }
        : null;
    case "replace":
      // The same limits as a message body: not empty once trimmed, at most 4,000 characters, valid text.
      return isText(answer.body, MAX_REPLACEMENT_CHARS, 1) && answer.body.trim() !== ""
        ? { action: "replace", body: answer.body }
        : null;
    default:
      return null;
  }
}
