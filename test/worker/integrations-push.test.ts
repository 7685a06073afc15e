/**
 * Integrations, part 3 (issue 27): native push. Phones register FCM and APNs tokens; a notification reaches
 * each through the local FCM (OAuth JWT exchange, HTTP v1) and the local APNs (HTTP/2, token auth, through
 * the relay, since workerd's own fetch speaks HTTP/1.1 only), collapsed by room, with the unread total as
 * the badge; tokens the services report dead are removed; every bad input is a 4xx with a stable code.
 */
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pushDevices } from "../../src/db/integration-schema";
import { deadLetters, notificationDeliveries } from "../../src/db/notification-schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { queueIdle, watchRoom } from "../helpers/queue-watch";
import type { ApnsCall } from "../servers/apns";
import type { FcmCall } from "../servers/fcm";

const servers = env as unknown as { TEST_FCM: string; TEST_APNS_RELAY: string; TEST_APNS_H2C: string };

const fcmToken = (prefix = "fcm") =>
  `${prefix}-${crypto.randomUUID()}:APA91b${crypto.randomUUID().replaceAll("-", "")}`;
const apnsToken = (prefix = "") => (prefix + crypto.randomUUID().replaceAll("-", "").repeat(2)).slice(0, 64);

async function fcmCalls(token: string): Promise<FcmCall[]> {
  const calls = (await (await fetch(`${servers.TEST_FCM}/__calls`)).json()) as FcmCall[];
  return calls.filter((c) => c.kind === "send" && JSON.stringify(c.body).includes(token));
}

async function apnsCalls(token: string): Promise<ApnsCall[]> {
  const calls = (await (await fetch(`${servers.TEST_APNS_RELAY}/__calls`)).json()) as ApnsCall[];
  return calls.filter((c) => c.headers[":path"] === `/3/device/${token}`);
}

async function register(token: string, body: unknown) {
  return api("POST", "/api/me/devices", token, body);
}

/** Ana posts into a room where Ben, offline, has phones; waits until every job that caused is done. */
async function notifyBen(messages = 1) {
  const [ana, ben] = [await createUser("Ana"), await createUser("Ben")];
  const room = await createRoom(ana.id, [ben.id]);
  await watchRoom(room.id);
  return {
    ana,
    ben,
    room,
    send: async () => {
      for (let i = 0; i < messages; i++) {
        const sent = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
          clientMsgId: crypto.randomUUID(),
          body: `hello ${i}`,
        });
        expect(sent.status).toBe(201);
      }
      await queueIdle();
    },
  };
}

describe("device registration", () => {
  it("registers, re-registers, lists and removes my phones only", async () => {
    const [me, other] = [await createUser("me"), await createUser("other")];
    const token = fcmToken();
    const first = await register(me.token, { platform: "fcm", token });
    expect(first.status).toBe(201);
    expect(first.json.device).toMatchObject({ platform: "fcm", tokenSuffix: token.slice(-8), apnsEnvironment: null });
    expect((await register(me.token, { platform: "fcm", token })).status).toBe(200);
    const apple = apnsToken().toUpperCase();
    const second = await register(me.token, { platform: "apns", token: apple, apnsEnvironment: "sandbox" });
    expect(second.status).toBe(201);
    expect(second.json.device).toMatchObject({ platform: "apns", apnsEnvironment: "sandbox" });
    const listed = await api("GET", "/api/me/devices", me.token);
    expect(listed.json.devices.map((d: { id: string }) => d.id).sort()).toEqual(
      [first.json.device.id, second.json.device.id].sort(),
    );
    expect(JSON.stringify(listed.json)).not.toContain(token);
    // Someone else's device is not there for them.
    expect((await api("DELETE", `/api/me/devices/${first.json.device.id}`, other.token)).status).toBe(404);
    expect((await api("DELETE", `/api/me/devices/${first.json.device.id}`, me.token)).status).toBe(204);
    expect((await api("DELETE", `/api/me/devices/${first.json.device.id}`, me.token)).status).toBe(404);
    // The same install signing in as someone else: the token moves, under a new id.
    const moved = await register(other.token, { platform: "apns", token: apple, apnsEnvironment: "sandbox" });
    expect(moved.status).toBe(201);
    expect(moved.json.device.id).not.toBe(second.json.device.id);
    expect((await api("GET", "/api/me/devices", me.token)).json.devices).toEqual([]);
  });

  it("refuses bad input with a stable code", async () => {
    const me = await createUser("me");
    const cases: [unknown, string][] = [
      [{ platform: "fcm", token: "short" }, "token"],
      [{ platform: "fcm", token: `${"x".repeat(30)} ${"y".repeat(10)}` }, "token"],
      [{ platform: "apns", token: "zz".repeat(32) }, "token"],
      [{ platform: "apns", token: "ab".repeat(16) }, "token"],
      [{ platform: "fcm", token: fcmToken(), apnsEnvironment: "sandbox" }, "apnsEnvironment"],
      [{ platform: "apns", token: apnsToken(), apnsEnvironment: "staging" }, "apnsEnvironment"],
      [{ platform: "webpush", token: fcmToken() }, "platform"],
      [{ token: fcmToken() }, "platform"],
    ];
    for (const [body, field] of cases) {
      const res = await register(me.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe("validation_failed");
      expect(JSON.stringify(res.json.error.details), JSON.stringify(body)).toContain(field);
    }
    expect((await api("DELETE", "/api/me/devices/not-an-id", me.token)).status).toBe(404);
    expect((await api("GET", "/api/me/devices")).status).toBe(401);
  });
});

describe("a notification on a phone", () => {
  it("goes through FCM exactly as FCM HTTP v1 expects, collapsed by room, badge = unread total", async () => {
    const flow = await notifyBen(2);
    const token = fcmToken();
    expect((await register(flow.ben.token, { platform: "fcm", token })).status).toBe(201);
    await flow.send();
    const calls = await fcmCalls(token);
    expect(calls.map((c) => c.status)).toEqual([200]);
    const call = calls[0] as FcmCall;
    expect(call.headers.authorization).toMatch(/^Bearer ya29\./);
    expect(call.headers["content-type"]).toContain("application/json");
    const { message } = call.body as { message: { data: { notificationId: string } } };
    expect(message).toMatchObject({
      token,
      notification: { title: "test room", body: expect.stringContaining("2 new messages") },
      data: { roomId: flow.room.id, kind: "digest", lastSeq: "2", notificationId: expect.any(String) },
      android: {
        collapse_key: flow.room.id,
        priority: "NORMAL",
        notification: { tag: flow.room.id, notification_count: 2 },
      },
      apns: { headers: { "apns-collapse-id": flow.room.id }, payload: { aps: { badge: 2 } } },
    });
    // The token exchange the server accepted: an RS256 assertion of the service account (checked there).
    const exchanges = ((await (await fetch(`${servers.TEST_FCM}/__calls`)).json()) as FcmCall[]).filter(
      (c) => c.kind === "token",
    );
    expect(exchanges.some((c) => c.status === 200)).toBe(true);
    const [delivered] = await db()
      .select()
      .from(notificationDeliveries)
      .where(eq(notificationDeliveries.notificationId, message.data.notificationId));
    expect(delivered).toMatchObject({ status: 200 });
  });

  it("goes through APNs over HTTP/2 with a provider token, collapsed by room, badge = unread total", async () => {
    const flow = await notifyBen();
    const token = apnsToken();
    expect((await register(flow.ben.token, { platform: "apns", token })).status).toBe(201);
    await flow.send();
    const calls = await apnsCalls(token);
    expect(calls.map((c) => [c.via, c.httpVersion, c.status])).toEqual([["h2", "2.0", 200]]);
    const call = calls[0] as ApnsCall;
    expect(call.headers).toMatchObject({
      ":method": "POST",
      "apns-topic": "com.example.edgechat",
      "apns-push-type": "alert",
      "apns-priority": "5",
      "apns-collapse-id": flow.room.id,
      authorization: expect.stringMatching(/^bearer ey/),
    });
    expect(Number(call.headers["apns-expiration"])).toBeGreaterThan(Date.now() / 1000);
    expect(call.body).toMatchObject({
      aps: { alert: { title: "test room", body: expect.any(String) }, badge: 1, "thread-id": flow.room.id },
      roomId: flow.room.id,
      lastSeq: 1,
    });
  });

  it("removes tokens the services report invalid, and records no delivery or dead letter for them", async () => {
    const flow = await notifyBen();
    const tokens = {
      unregistered: fcmToken("unregistered"),
      invalid: fcmToken("invalid"),
      gone: apnsToken("deadbeef"),
      bad: apnsToken("badbad"),
      fine: apnsToken(),
    };
    const ids: Record<string, string> = {};
    for (const [name, token] of Object.entries(tokens)) {
      const platform = name === "unregistered" || name === "invalid" ? "fcm" : "apns";
      const res = await register(flow.ben.token, { platform, token });
      expect(res.status).toBe(201);
      ids[name] = res.json.device.id;
    }
    await flow.send();
    const left = await db().select().from(pushDevices).where(eq(pushDevices.userId, flow.ben.id));
    expect(left.map((d) => d.id)).toEqual([ids.fine]);
    expect((await fcmCalls(tokens.unregistered)).map((c) => c.status)).toEqual([404]);
    expect((await fcmCalls(tokens.invalid)).map((c) => c.status)).toEqual([400]);
    expect((await apnsCalls(tokens.gone)).map((c) => [c.status, c.reason])).toEqual([[410, "Unregistered"]]);
    expect((await apnsCalls(tokens.bad)).map((c) => [c.status, c.reason])).toEqual([[400, "BadDeviceToken"]]);
    const targets = Object.values(ids).flatMap((id) => [`fcm:${id}`, `apns:${id}`]);
    const recorded = await db()
      .select({ target: notificationDeliveries.target })
      .from(notificationDeliveries)
      .where(inArray(notificationDeliveries.target, targets));
    expect(recorded.map((r) => r.target)).toEqual([`apns:${ids.fine}`]);
    const dead = await db().select().from(deadLetters);
    expect(dead.filter((d) => targets.some((t) => JSON.stringify(d.body).includes(t)))).toEqual([]);
  });

  it("sends nothing to phones when the user turned push off", async () => {
    const flow = await notifyBen();
    const token = fcmToken();
    await register(flow.ben.token, { platform: "fcm", token });
    const off = await api("PATCH", "/api/me/notification-settings", flow.ben.token, { channels: { push: false } });
    expect(off.status).toBe(200);
    await flow.send();
    expect(await fcmCalls(token)).toEqual([]);
  });
});

describe("why the tests reach APNs through a relay", () => {
  it("workerd's fetch cannot speak HTTP/2 to an HTTP/2-only server (workerd#5266)", async () => {
    const token = apnsToken();
    const outcome = await fetch(`${servers.TEST_APNS_H2C}/3/device/${token}`, {
      method: "POST",
      headers: { "apns-topic": "com.example.edgechat", "apns-push-type": "alert" },
      body: JSON.stringify({ aps: {} }),
    }).then(
      (res) => `answered ${res.status}`,
      (err: Error) => `failed: ${err.message}`,
    );
    expect(outcome).toMatch(/^failed: Network connection lost/);
    expect(await apnsCalls(token)).toEqual([]);
  });
});
