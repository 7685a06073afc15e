/** Pure notification logic: who is told what, the text, delivery targets (endpoint rules: endpoint-policy.test.ts). */
import { describe, expect, it } from "vitest";
import { planRecipients, type RecipientState } from "../../src/worker/notify/collect";
import type { NotifyConfig } from "../../src/worker/notify/config";
import { deliveryTargets } from "../../src/worker/notify/flush";
import { mentions } from "../../src/worker/notify/mentions";
import { notificationText, previewOf, sendersPhrase } from "../../src/worker/notify/text";
import { signatureHeader, signPayload } from "../../src/worker/notify/webhook";

const ana = { id: "0b5c6f0e-3b1a-4b7e-9c55-1f0c2b7e9a10", displayName: "Ana" };

describe("mentions", () => {
  it.each([
    ["@Ana hi", true],
    ["hi @ana", true],
    ["hi @ANA, look", true],
    [`ping @${ana.id}`, true],
    ["@Anabel hi", false],
    ["ana@example.com", false],
    ["hi Ana", false],
    ["x@Ana", false],
  ])("%s → %s", (body, expected) => {
    expect(mentions(body, ana)).toBe(expected);
  });

  it("matches display names with spaces and non-Latin letters", () => {
    expect(mentions("hey @ben ko!", { id: ana.id, displayName: "Ben Ko" })).toBe(true);
    expect(mentions("@Ζωή ok", { id: ana.id, displayName: "Ζωή" })).toBe(true);
    expect(mentions("@Ζωήα ok", { id: ana.id, displayName: "Ζωή" })).toBe(false);
  });
});

describe("planRecipients", () => {
  const now = Date.parse("2026-11-22T12:00:00Z");
  const r = (over: Partial<RecipientState>): RecipientState => ({
    userId: crypto.randomUUID(),
    displayName: "Ben",
    mutedUntil: null,
    inApp: null,
    webhook: null,
    push: null,
    ...over,
  });

  it("digests by default, notifies mentions at once, skips the sender, the muted and the all-off", () => {
    const sender = r({ displayName: "Ana" });
    const plain = r({ displayName: "Cy" });
    const mentioned = r({ displayName: "Ben" });
    const muted = r({ mutedUntil: new Date(now + 1000) });
    const muteOver = r({ displayName: "Di", mutedUntil: new Date(now - 1000) });
    const allOff = r({ inApp: false, webhook: false, push: false });
    const noInApp = r({ displayName: "Ed", inApp: false });
    const plan = planRecipients(
      { body: "@ben see this", senderId: sender.userId },
      "group",
      [sender, plain, mentioned, muted, muteOver, allOff, noInApp],
      now,
    );
    expect(plan).toEqual([
      { userId: plain.userId, kind: "digest", inApp: true },
      { userId: mentioned.userId, kind: "mention", inApp: true },
      { userId: muteOver.userId, kind: "digest", inApp: true },
      { userId: noInApp.userId, kind: "digest", inApp: false },
    ]);
  });

  it("notifies every message of a direct room at once", () => {
    const other = r({});
    expect(planRecipients({ body: "hi", senderId: crypto.randomUUID() }, "direct", [other], now)).toEqual([
      { userId: other.userId, kind: "direct", inApp: true },
    ]);
  });
});

describe("notification text", () => {
  it("names senders briefly", () => {
    expect([[], ["Ana"], ["Ana", "Ben"], ["Ana", "Ben", "Cy"]].map(sendersPhrase)).toEqual([
      "someone",
      "Ana",
      "Ana and Ben",
      "Ana and 2 others",
    ]);
  });

  it("says what happened, where, and from whom", () => {
    const base = { roomKind: "group" as const, roomName: "design", senderNames: ["Ana", "Ben", "Cy"] };
    expect(notificationText({ ...base, kind: "digest", messageCount: 5 })).toBe(
      "5 new messages in #design from Ana and 2 others",
    );
    expect(notificationText({ ...base, kind: "digest", messageCount: 1, senderNames: ["Ana"] })).toBe(
      "New message in #design from Ana",
    );
    expect(notificationText({ ...base, kind: "mention", messageCount: 1, senderNames: ["Ana"] })).toBe(
      "Ana mentioned you in #design",
    );
    expect(
      notificationText({ kind: "direct", messageCount: 1, roomKind: "direct", roomName: null, senderNames: ["Ana"] }),
    ).toBe("New message from Ana");
  });

  it("keeps previews to one short line", () => {
    expect(previewOf("a\n\n  b")).toBe("a b");
    const long = previewOf("x".repeat(500));
    expect(long).toHaveLength(140);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("delivery targets", () => {
  const cfg = {
    webhookUrl: "https://ops.example/hook",
    vapid: { subject: "mailto:x", publicKey: "p", privateKey: "k" },
  } as NotifyConfig;
  const subs = [{ id: "11111111-1111-4111-8111-111111111111" }];

  it("follows the deployment config and the user's channels", () => {
    expect(deliveryTargets(cfg, null, subs)).toEqual(["webhook:deployment", `push:${subs[0]?.id}`]);
    expect(deliveryTargets(cfg, { webhook: true, push: false, webhookUrl: "https://me.example" }, subs)).toEqual([
      "webhook:deployment",
      "webhook:user",
    ]);
    expect(deliveryTargets(cfg, { webhook: false, push: false, webhookUrl: "https://me.example" }, subs)).toEqual([]);
    expect(deliveryTargets({ ...cfg, webhookUrl: null, vapid: null }, null, subs)).toEqual([]);
  });
});

describe("webhook signature", () => {
  it('is hex HMAC-SHA256 over "<t>.<body>" with the timestamp in seconds', async () => {
    // Known answer from: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
    expect(await signPayload("secret", 1_700_000_000, '{"a":1}')).toBe(
      "49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686",
    );
    expect(await signatureHeader("secret", '{"a":1}', 1_700_000_000_500)).toBe(
      "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686",
    );
  });
});
