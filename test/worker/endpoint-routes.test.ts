/**
 * The SSRF filter where users meet it: a webhook URL or push endpoint pointing inside a network is a 400
 * `validation_failed` naming the field when saved, and a URL that got into the database some other way
 * (older rules, a direct write) is still refused when the notification is sent.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters, notificationSettings, notifications, pushSubscriptions } from "../../src/db/notification-schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { hookUrl, receiverCalls, waitFor } from "../helpers/notify";
import { browserKeys } from "../helpers/push-keys";
import { queueIdle, watchRoom } from "../helpers/queue-watch";
import { ISSUE_22_FORMS, MORE_INTERNAL_FORMS } from "../helpers/ssrf";

const FORMS = [...ISSUE_22_FORMS, ...MORE_INTERNAL_FORMS];

describe("saving an endpoint that points inside a network", () => {
  it("refuses it as a webhook URL with 400 validation_failed on webhookUrl", async () => {
    const me = await createUser("me");
    for (const url of FORMS) {
      const res = await api("PATCH", "/api/me/notification-settings", me.token, { webhookUrl: `${url}hook` });
      expect(res.status, url).toBe(400);
      expect(res.json.error.code, url).toBe("validation_failed");
      expect(res.json.error.details, url).toEqual([
        { field: "webhookUrl", message: expect.stringMatching(/^must not point at /) },
      ]);
    }
    expect(await db().select().from(notificationSettings).where(eq(notificationSettings.userId, me.id))).toEqual([]);
  });

  it("refuses it as a push endpoint with 400 validation_failed on endpoint", async () => {
    const me = await createUser("me");
    const keys = await browserKeys();
    for (const url of FORMS) {
      const res = await api("POST", "/api/push/subscriptions", me.token, { endpoint: `${url}push/1`, keys });
      expect(res.status, url).toBe(400);
      expect(res.json.error.code, url).toBe("validation_failed");
      expect(res.json.error.details, url).toEqual([
        { field: "endpoint", message: expect.stringMatching(/^must not point at /) },
      ]);
    }
    expect(await db().select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, me.id))).toEqual([]);
  });

  it("still takes the loopback receivers the tests use (ALLOW_LOOPBACK_ENDPOINTS)", async () => {
    const me = await createUser("me");
    const res = await api("PATCH", "/api/me/notification-settings", me.token, { webhookUrl: hookUrl("loopback") });
    expect(res.status).toBe(200);
  });
});

describe("sending to an endpoint saved before the rules caught it", () => {
  it("dead-letters the personal webhook job without calling anything", async () => {
    const ana = await createUser("Ana");
    const ben = await createUser("Ben");
    const room = await createRoom(ana.id, [ben.id]);
    await watchRoom(room.id);
    const name = crypto.randomUUID();
    expect((await api("PATCH", "/api/me/notification-settings", ben.token, { webhookUrl: hookUrl(name) })).status).toBe(
      200,
    );
    // What an older, laxer filter let through, written straight to the table.
    await db()
      .update(notificationSettings)
      .set({ webhookUrl: "https://[::a00:1]/hook" })
      .where(eq(notificationSettings.userId, ben.id));
    const sent = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: crypto.randomUUID(),
      body: "hello",
    });
    expect(sent.status).toBe(201);
    const dead = await waitFor(async () => {
      const [n] = await db().select().from(notifications).where(eq(notifications.userId, ben.id));
      if (!n) return null;
      const rows = await db().select().from(deadLetters).where(eq(deadLetters.queue, "edgechat-notifications"));
      return rows.find((r) => (r.body as { notificationId?: string }).notificationId === n.id);
    }, 15_000);
    expect(dead.reason).toBe("webhook URL must not point at an IPv4-compatible address (::/96) carrying 10.0.0.1");
    expect(dead.attempts).toBe(1);
    await queueIdle();
    expect(await receiverCalls(name)).toEqual([]);
  });
});
