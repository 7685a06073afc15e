/** The notification REST API: the in-app list and read state, settings, push subscriptions. */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { notifications, pushSubscriptions } from "../../src/db/notification-schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

/** `n` in-app notifications for one user, created oldest first. */
async function seeded(n: number) {
  const me = await createUser("me");
  const other = await createUser("other");
  const room = await createRoom(other.id, [me.id]);
  for (let i = 1; i <= n; i++) {
    await db()
      .insert(notifications)
      .values({
        userId: me.id,
        roomId: room.id,
        kind: "mention",
        firstSeq: i,
        lastSeq: i,
        senderIds: [other.id],
        preview: `message ${i}`,
        deliverAt: new Date(),
        deliveredAt: new Date(),
      });
  }
  return { me, other, room };
}

const p256 = async () => {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return b64url(raw);
};
const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");

describe("GET /api/notifications", () => {
  it("pages newest first without gaps or repeats, and counts unread", async () => {
    const { me } = await seeded(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api("GET", `/api/notifications?limit=2${cursor ? `&cursor=${cursor}` : ""}`, me.token);
      expect(res.status).toBe(200);
      expect(res.json.unread).toBe(5);
      seen.push(...res.json.notifications.map((n: { preview: string }) => n.preview));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["message 5", "message 4", "message 3", "message 2", "message 1"]);
  });

  it("shows only my own notifications", async () => {
    await seeded(2);
    const stranger = await createUser("stranger");
    const res = await api("GET", "/api/notifications", stranger.token);
    expect(res.json).toEqual({ notifications: [], unread: 0, nextCursor: null });
  });

  it("refuses bad queries and requires a token", async () => {
    const { me } = await seeded(0);
    expect((await api("GET", "/api/notifications?limit=0", me.token)).json.error.code).toBe("validation_failed");
    expect((await api("GET", "/api/notifications?cursor=zzz", me.token)).status).toBe(400);
    expect((await api("GET", "/api/notifications?color=red", me.token)).status).toBe(400);
    expect((await api("GET", "/api/notifications")).status).toBe(401);
  });
});

describe("POST /api/notifications/read", () => {
  it("marks some by id, then all; other users' ids change nothing", async () => {
    const { me } = await seeded(3);
    const theirs = await seeded(1);
    const list = (await api("GET", "/api/notifications", me.token)).json.notifications as { id: string }[];
    const [theirNote] = (await api("GET", "/api/notifications", theirs.me.token)).json.notifications;
    const some = await api("POST", "/api/notifications/read", me.token, { ids: [list[0]?.id, theirNote.id] });
    expect(some.json).toEqual({ updated: 1, unread: 2 });
    expect((await api("GET", "/api/notifications", theirs.me.token)).json.unread).toBe(1);
    const unread = await api("GET", "/api/notifications?unread=true", me.token);
    expect(unread.json.notifications.map((n: { id: string }) => n.id)).toEqual([list[1]?.id, list[2]?.id]);
    expect((await api("POST", "/api/notifications/read", me.token, { all: true })).json).toEqual({
      updated: 2,
      unread: 0,
    });
    expect((await api("GET", "/api/auth/me", me.token)).json.unreadNotifications).toBe(0);
  });

  it("refuses an empty or mixed body", async () => {
    const { me } = await seeded(0);
    for (const body of [{}, { ids: [] }, { all: false }, { ids: ["x"] }, { ids: [crypto.randomUUID()], all: true }]) {
      const res = await api("POST", "/api/notifications/read", me.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("notification settings", () => {
  it("defaults to every channel on, and saves changes", async () => {
    const me = await createUser("me");
    const first = await api("GET", "/api/me/notification-settings", me.token);
    expect(first.json.settings).toEqual({
      channels: { inApp: true, webhook: true, push: true },
      webhookUrl: null,
      webhookSecret: null,
      mutedRooms: [],
    });
    const patched = await api("PATCH", "/api/me/notification-settings", me.token, {
      channels: { push: false },
      webhookUrl: "https://hooks.example.com/me",
    });
    expect(patched.json.settings).toMatchObject({
      channels: { inApp: true, webhook: true, push: false },
      webhookUrl: "https://hooks.example.com/me",
    });
    const secret = patched.json.settings.webhookSecret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    // Same URL again keeps the secret; a new URL gets a new one; removing it removes both.
    const same = await api("PATCH", "/api/me/notification-settings", me.token, {
      webhookUrl: "https://hooks.example.com/me",
    });
    expect(same.json.settings.webhookSecret).toBe(secret);
    const moved = await api("PATCH", "/api/me/notification-settings", me.token, {
      webhookUrl: "https://hooks.example.com/new",
    });
    expect(moved.json.settings.webhookSecret).not.toBe(secret);
    const removed = await api("PATCH", "/api/me/notification-settings", me.token, { webhookUrl: null });
    expect(removed.json.settings).toMatchObject({ webhookUrl: null, webhookSecret: null });
  });

  it("refuses bad input and rooms I am not in (404, like a missing room)", async () => {
    const me = await createUser("me");
    const other = await createUser("other");
    const notMine = await createRoom(other.id);
    const until = new Date(Date.now() + 60_000).toISOString();
    const cases: [unknown, number][] = [
      [{}, 400],
      [{ channels: { sms: true } }, 400],
      [{ webhookUrl: "http://hooks.example.com/x" }, 400],
      [{ webhookUrl: "javascript:alert(1)" }, 400],
      [{ mute: [{ roomId: notMine.id, until }] }, 404],
      [{ mute: [{ roomId: crypto.randomUUID(), until }] }, 404],
      [{ mute: [{ roomId: notMine.id, until: "tomorrow" }] }, 400],
    ];
    for (const [body, status] of cases) {
      const res = await api("PATCH", "/api/me/notification-settings", me.token, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
    }
    expect((await api("GET", "/api/me/notification-settings", me.token)).json.settings.channels).toEqual({
      inApp: true,
      webhook: true,
      push: true,
    });
  });
});

describe("push subscriptions", () => {
  it("publishes the VAPID key without auth", async () => {
    const res = await api("GET", "/api/push/vapid-public-key");
    expect(res.json).toEqual({ publicKey: env.VAPID_PUBLIC_KEY });
  });

  it("accepts a valid subscription once per endpoint, and deletes only my own", async () => {
    const me = await createUser("me");
    const other = await createUser("other");
    const sub = {
      endpoint: `https://push.example.com/${crypto.randomUUID()}`,
      keys: { p256dh: await p256(), auth: b64url(crypto.getRandomValues(new Uint8Array(16))) },
    };
    const first = await api("POST", "/api/push/subscriptions", me.token, sub);
    expect(first.status).toBe(201);
    const again = await api("POST", "/api/push/subscriptions", me.token, { ...sub, expirationTime: null });
    expect(again.json.subscription.id).toBe(first.json.subscription.id);
    expect((await api("DELETE", `/api/push/subscriptions/${first.json.subscription.id}`, other.token)).status).toBe(
      204,
    );
    expect(
      await db().select().from(pushSubscriptions).where(eq(pushSubscriptions.endpoint, sub.endpoint)),
    ).toHaveLength(1);
    expect((await api("DELETE", `/api/push/subscriptions/${first.json.subscription.id}`, me.token)).status).toBe(204);
    expect(
      await db().select().from(pushSubscriptions).where(eq(pushSubscriptions.endpoint, sub.endpoint)),
    ).toHaveLength(0);
  });

  it("refuses bad endpoints and keys with 400 at subscribe time", async () => {
    const me = await createUser("me");
    const good = { p256dh: await p256(), auth: b64url(crypto.getRandomValues(new Uint8Array(16))) };
    const offCurve = b64url(Uint8Array.from({ length: 65 }, (_, i) => (i === 0 ? 4 : 7)));
    const cases: [string, unknown][] = [
      ["http endpoint", { endpoint: "http://push.example.com/x", keys: good }],
      ["not a url", { endpoint: "nope", keys: good }],
      ["short auth", { endpoint: "https://push.example.com/x", keys: { ...good, auth: b64url(new Uint8Array(8)) } }],
      ["bad base64", { endpoint: "https://push.example.com/x", keys: { ...good, auth: "!!!!" } }],
      [
        "compressed point",
        { endpoint: "https://push.example.com/x", keys: { ...good, p256dh: b64url(new Uint8Array(33)) } },
      ],
      ["point off the curve", { endpoint: "https://push.example.com/x", keys: { ...good, p256dh: offCurve } }],
      ["no keys", { endpoint: "https://push.example.com/x" }],
    ];
    for (const [what, body] of cases) {
      const res = await api("POST", "/api/push/subscriptions", me.token, body);
      expect(res.status, what).toBe(400);
      expect(res.json.error.code, what).toBe("validation_failed");
    }
    expect(await db().select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, me.id))).toHaveLength(0);
  });
});
