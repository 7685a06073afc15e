/**
 * The before-send moderation webhook client (src/lib/moderation-webhook.ts) against a real HTTP receiver
 * (test/servers/webhook-receiver.ts): every answer and every way of not answering, failing open and closed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { checkWithWebhook, type ModerationWebhookEnv, parseVerdict } from "../../src/lib/moderation-webhook";
import { signPayload } from "../../src/lib/webhook-signature";

const RECEIVER = env.TEST_WEBHOOK_RECEIVER;

interface Answer {
  status?: number;
  reply?: string;
  delayMs?: number;
}

/** A receiver path of its own that answers every call as told. */
async function hook(answer: Answer): Promise<{ url: string; calls: () => Promise<ReceivedCall[]> }> {
  const name = `moderation-${crypto.randomUUID()}`;
  const control = await fetch(`${RECEIVER}/__control/${name}`, {
    method: "POST",
    body: JSON.stringify({
      fail: 1000,
      status: answer.status ?? 200,
      delayMs: answer.delayMs ?? 0,
      reply: answer.reply,
    }),
  });
  expect(control.status).toBe(204);
  return {
    url: `${RECEIVER}/hook/${name}`,
    calls: async () => (await (await fetch(`${RECEIVER}/__calls/${name}`)).json()) as ReceivedCall[],
  };
}

interface ReceivedCall {
  headers: Record<string, string>;
  body: string;
}

function settings(url: string, failure: "open" | "closed", extra: ModerationWebhookEnv = {}): ModerationWebhookEnv {
  return {
    MODERATION_WEBHOOK_URL: url,
    MODERATION_WEBHOOK_FAILURE: failure,
    MODERATION_WEBHOOK_TIMEOUT_MS: "400",
    NOTIFY_WEBHOOK_SECRET: env.NOTIFY_WEBHOOK_SECRET,
    ALLOW_LOOPBACK_ENDPOINTS: "true",
    ...extra,
  };
}

const check = () => ({
  roomId: crypto.randomUUID(),
  senderId: crypto.randomUUID(),
  body: "is this fine?",
  clientMsgId: "c-1",
});

const UNAVAILABLE = { action: "reject", code: "moderation_unavailable" };

describe("answers the webhook gives", () => {
  it.each(["open", "closed"] as const)("allow, reject and replace are followed (failing %s)", async (failure) => {
    const allow = await hook({ reply: JSON.stringify({ action: "allow", extra: "ignored" }) });
    const reject = await hook({ reply: JSON.stringify({ action: "reject", reason: "spam" }) });
    const bare = await hook({ reply: JSON.stringify({ action: "reject" }) });
    const replace = await hook({ reply: JSON.stringify({ action: "replace", body: "is this ****?" }) });
    const a = await checkWithWebhook(settings(allow.url, failure), check());
    expect(a).toMatchObject({ verdict: { action: "allow" }, outcome: "answered" });
    expect(a.latencyMs).toBeGreaterThanOrEqual(0);
    expect(a.latencyMs).toBeLessThan(400);
    expect(await checkWithWebhook(settings(reject.url, failure), check())).toMatchObject({
      verdict: { action: "reject", code: "content_rejected", reason: "spam" },
      outcome: "answered",
    });
    expect((await checkWithWebhook(settings(bare.url, failure), check())).verdict).toEqual({
      action: "reject",
      code: "content_rejected",
    });
    expect(await checkWithWebhook(settings(replace.url, failure), check())).toMatchObject({
      verdict: { action: "replace", body: "is this ****?" },
      outcome: "answered",
    });
  });

  it("signs the request like the notification webhooks, with the deployment secret", async () => {
    const allow = await hook({ reply: '{"action":"allow"}' });
    const asked = { ...check(), replyTo: 3 };
    await checkWithWebhook(settings(allow.url, "open"), asked);
    const [call] = await allow.calls();
    if (!call) throw new Error("the receiver saw no call");
    const { t, v1 } = Object.fromEntries(
      (call.headers["edgechat-signature"] ?? "").split(",").map((kv) => kv.split("=", 2)),
    ) as { t: string; v1: string };
    expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(60);
    expect(v1).toBe(await signPayload(env.NOTIFY_WEBHOOK_SECRET, Number(t), call.body));
    const payload = JSON.parse(call.body);
    expect(payload).toMatchObject({ type: "message.check", kind: "send", ...asked });
    expect(call.headers["edgechat-delivery"]).toBe(payload.checkId);
    expect(call.headers["content-type"]).toBe("application/json");
    // A secret of its own wins when set.
    const own = await hook({ reply: '{"action":"allow"}' });
    await checkWithWebhook(settings(own.url, "open", { MODERATION_WEBHOOK_SECRET: "moderation-secret" }), check());
    const [signed] = await own.calls();
    const header = signed?.headers["edgechat-signature"] ?? "";
    const t2 = Number(/t=(\d+)/.exec(header)?.[1]);
    expect(header).toContain(`v1=${await signPayload("moderation-secret", t2, signed?.body ?? "")}`);
  });

  it("is off without a URL: allowed, nothing asked", async () => {
    expect(await checkWithWebhook(settings("", "closed"), check())).toEqual({
      verdict: { action: "allow" },
      outcome: "off",
      latencyMs: 0,
    });
  });
});

describe("failures, settled by MODERATION_WEBHOOK_FAILURE", () => {
  const warn = () => vi.spyOn(console, "warn").mockImplementation(() => {});

  const cases: [string, () => Promise<string>, string][] = [
    [
      "a slow answer (timeout)",
      async () => (await hook({ reply: '{"action":"allow"}', delayMs: 3000 })).url,
      "timeout",
    ],
    ["a 500", async () => (await hook({ status: 500, reply: '{"action":"allow"}' })).url, "bad_status"],
    ["a redirect", async () => (await hook({ status: 302, reply: "" })).url, "bad_status"],
    ["invalid JSON", async () => (await hook({ reply: "{not json" })).url, "invalid_answer"],
    ["an unknown action", async () => (await hook({ reply: '{"action":"maybe"}' })).url, "invalid_answer"],
    [
      "an empty replacement",
      async () => (await hook({ reply: '{"action":"replace","body":"  "}' })).url,
      "invalid_answer",
    ],
    [
      "a replacement over 4,000 characters",
      async () => (await hook({ reply: JSON.stringify({ action: "replace", body: "x".repeat(4001) }) })).url,
      "invalid_answer",
    ],
    // Port 1 on this machine: nothing listens there, the connection is refused.
    ["a refused connection", async () => "http://127.0.0.1:1/hook", "network_error"],
    ["an endpoint the SSRF policy refuses", async () => "http://10.0.0.1/hook", "refused_endpoint"],
  ];

  it.each(cases)("%s allows when failing open", async (_, url, outcome) => {
    const spy = warn();
    const result = await checkWithWebhook(settings(await url(), "open"), check());
    expect(result).toMatchObject({ verdict: { action: "allow" }, outcome });
    expect(spy.mock.calls.map((c) => String(c[0])).join("\n")).toContain(`"outcome":"${outcome}"`);
    spy.mockRestore();
  });

  it.each(cases)("%s rejects with moderation_unavailable when failing closed", async (_, url, outcome) => {
    const spy = warn();
    const result = await checkWithWebhook(settings(await url(), "closed"), check());
    expect(result).toMatchObject({ verdict: UNAVAILABLE, outcome });
    spy.mockRestore();
  });

  it("gives up at the timeout, and says how long it waited", async () => {
    const spy = warn();
    const slow = await hook({ reply: '{"action":"allow"}', delayMs: 5000 });
    const started = Date.now();
    const result = await checkWithWebhook(
      settings(slow.url, "closed", { MODERATION_WEBHOOK_TIMEOUT_MS: "300" }),
      check(),
    );
    const waited = Date.now() - started;
    expect(result.outcome).toBe("timeout");
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(2000);
    spy.mockRestore();
  });

  it("holds the timeout even when the fetch it is given ignores the abort signal", async () => {
    const spy = warn();
    const never: typeof fetch = () => new Promise<Response>(() => {});
    const result = await checkWithWebhook(settings("https://moderation.example.com/hook", "closed"), check(), never);
    expect(result).toMatchObject({ verdict: UNAVAILABLE, outcome: "timeout" });
    spy.mockRestore();
  });

  it("refuses loopback endpoints unless ALLOW_LOOPBACK_ENDPOINTS is on, and plain http anywhere public", async () => {
    const spy = warn();
    const allow = await hook({ reply: '{"action":"allow"}' });
    const loopback = await checkWithWebhook(
      settings(allow.url, "closed", { ALLOW_LOOPBACK_ENDPOINTS: "false" }),
      check(),
    );
    expect(loopback.outcome).toBe("refused_endpoint");
    expect((await allow.calls()).length).toBe(0);
    const http = await checkWithWebhook(settings("http://moderation.example.com/hook", "closed"), check());
    expect(http.outcome).toBe("refused_endpoint");
    spy.mockRestore();
  });

  it("fails open unless configured exactly closed", async () => {
    const spy = warn();
    for (const failure of [undefined, "", "CLOSE", "no"]) {
      const result = await checkWithWebhook(
        { ...settings("http://127.0.0.1:1/hook", "open"), MODERATION_WEBHOOK_FAILURE: failure },
        check(),
      );
      expect(result.verdict, String(failure)).toEqual({ action: "allow" });
    }
    const closed = await checkWithWebhook(
      { ...settings("http://127.0.0.1:1/hook", "open"), MODERATION_WEBHOOK_FAILURE: " Closed " },
      check(),
    );
    expect(closed.verdict).toMatchObject(UNAVAILABLE);
    spy.mockRestore();
  });
});

describe("parseVerdict", () => {
  it.each([
    ["[]", null],
    ["null", null],
    ['"allow"', null],
    ['{"action":"reject","reason":42}', null],
    [`{"action":"reject","reason":"${"r".repeat(501)}"}`, null],
    ['{"action":"replace","body":"a\\u0000b"}', null],
    ['{"action":"replace","body":"\\ud800"}', null],
    ['{"action":"replace"}', null],
    ['{"action":"allow","reason":"fine"}', { action: "allow" }],
    ['{"action":"reject","reason":null}', { action: "reject", code: "content_rejected" }],
  ])("%s", (text, verdict) => {
    expect(parseVerdict(text)).toEqual(verdict);
  });
});
