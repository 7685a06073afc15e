/**
 * Web Push end to end: a subscription from a local push service (web-push-testing), a message for the
 * offline subscriber, and the push service checking VAPID and decrypting what edgechat encrypted.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pushSubscriptions } from "../../src/db/notification-schema";
import { users } from "../../src/db/schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { waitFor } from "../helpers/notify";
import { queueIdle, watchRoom } from "../helpers/queue-watch";

async function pushService(path: string, body: unknown) {
  const res = await fetch(`${env.TEST_PUSH_SERVICE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return res.status === 200 && text.startsWith("{")
    ? (JSON.parse(text) as { data: Record<string, unknown> }).data
    : null;
}

async function subscribedPair() {
  const ana = await createUser("Ana");
  const ben = await createUser("Ben");
  const room = await createRoom(ana.id, [ben.id]);
  await watchRoom(room.id);
  const { publicKey } = (await api("GET", "/api/push/vapid-public-key")).json;
  const sub = (await pushService("/subscribe", { userVisibleOnly: "true", applicationServerKey: publicKey })) as {
    endpoint: string;
    keys: { p256dh: string; auth: string };
    clientHash: string;
  };
  const res = await api("POST", "/api/push/subscriptions", ben.token, { endpoint: sub.endpoint, keys: sub.keys });
  expect(res.status).toBe(201);
  return { ana, ben, room, clientHash: sub.clientHash };
}

const received = async (clientHash: string) =>
  (((await pushService("/get-notifications", { clientHash })) as { messages: string[] } | null)?.messages ?? []).map(
    (m) => JSON.parse(m) as Record<string, unknown>,
  );

describe("web push", () => {
  it("delivers an encrypted, VAPID-signed push that the push service decrypts", async () => {
    const { ana, room, clientHash } = await subscribedPair();
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "p1", body: "@Ben push me" });
    const [push] = await waitFor(async () => {
      const got = await received(clientHash);
      return got.length > 0 && got;
    });
    expect(push).toMatchObject({
      kind: "mention",
      roomId: room.id,
      body: "Ana mentioned you in #test room",
      preview: "@Ben push me",
    });
    await queueIdle();
    expect(await received(clientHash)).toHaveLength(1);
  });

  it("sends nothing to an expired subscription, nor to a user banned since subscribing", async () => {
    const expired = await subscribedPair();
    await db()
      .update(pushSubscriptions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(pushSubscriptions.userId, expired.ben.id));
    const banned = await subscribedPair();
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, banned.ben.id));
    for (const { ana, room } of [expired, banned]) {
      await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "p3", body: "@Ben hello?" });
    }
    // A control pair proves pushes were flowing while the other two stayed silent.
    const control = await subscribedPair();
    await api("POST", `/api/rooms/${control.room.id}/messages`, control.ana.token, {
      clientMsgId: "p4",
      body: "@Ben hi",
    });
    await waitFor(async () => (await received(control.clientHash)).length > 0);
    await queueIdle();
    expect(await received(expired.clientHash)).toHaveLength(0);
    expect(await received(banned.clientHash)).toHaveLength(0);
  });

  it("drops a subscription the push service says is gone (410)", async () => {
    const { ana, ben, room, clientHash } = await subscribedPair();
    await pushService(`/expire-subscription/${clientHash}`, {});
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "p2", body: "@Ben are you there" });
    await waitFor(
      async () =>
        (await db().select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, ben.id))).length === 0,
    );
  });
});
