/**
 * SSRF address forms against the two routes that store a URL the worker will call, with the loopback
 * escape hatch off as in production (so loopback shorthand is refused too).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/worker/app";
import { createUser } from "../helpers/fixtures";
import { browserKeys } from "../helpers/push-keys";
import { ISSUE_22_FORMS, LOOPBACK_FORMS, MORE_INTERNAL_FORMS } from "../helpers/ssrf";

const production = { ...env, ALLOW_LOOPBACK_ENDPOINTS: "false" };
const FORMS = [...ISSUE_22_FORMS, ...MORE_INTERNAL_FORMS, ...LOOPBACK_FORMS, "https://[::ffff:7f00:1]/"];

async function call(method: string, path: string, token: string, body: unknown) {
  const res = await app.fetch(
    new Request(`http://edgechat.test${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    production,
  );
  return { status: res.status, json: (await res.json()) as { error?: { code: string } } };
}

describe("SSRF address forms", () => {
  it("refuses every internal form as a webhook URL and a push endpoint", async () => {
    const me = await createUser("me");
    const keys = await browserKeys();
    for (const url of FORMS) {
      const hook = await call("PATCH", "/api/me/notification-settings", me.token, { webhookUrl: url });
      expect([hook.status, hook.json.error?.code], `webhook ${url}`).toEqual([400, "validation_failed"]);
      const push = await call("POST", "/api/push/subscriptions", me.token, { endpoint: url, keys });
      expect([push.status, push.json.error?.code], `push ${url}`).toEqual([400, "validation_failed"]);
    }
  });

  it("accepts a public https endpoint (control)", async () => {
    const me = await createUser("me");
    const ok = await call("PATCH", "/api/me/notification-settings", me.token, {
      webhookUrl: "https://hooks.example.com/x",
    });
    expect(ok.status).toBe(200);
  });
});
