/**
 * Notifications end to end: a message sent through the worker, written through to Postgres by the room,
 * queued, consumed by the real local queue, stored in-app and delivered to signed webhooks.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deadLetters, notificationDeliveries, notifications } from "../../src/db/notification-schema";
import { rooms } from "../../src/db/schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { deploymentCallsFor, failNext, hookUrl, receiverCalls, signatureValid, waitFor } from "../helpers/notify";
import { queueIdle, watchRoom } from "../helpers/queue-watch";

async function send(roomId: string, token: string, body: string) {
  await watchRoom(roomId);
  const res = await api("POST", `/api/rooms/${roomId}/messages`, token, { clientMsgId: crypto.randomUUID(), body });
  expect(res.status).toBe(201);
  return res.json.message.seq as number;
}

async function inApp(token: string) {
  const res = await api("GET", "/api/notifications", token);
  expect(res.status).toBe(200);
  return res.json as { notifications: Record<string, unknown>[]; unread: number };
}

async function groupOf(names: string[], roomName = "design") {
  const users = await Promise.all(names.map((n) => createUser(n)));
  const [owner, ...rest] = users as [
    Awaited<ReturnType<typeof createUser>>,
    ...Awaited<ReturnType<typeof createUser>>[],
  ];
  const room = await createRoom(
    owner.id,
    rest.map((u) => u.id),
  );
  await db().update(rooms).set({ name: roomName }).where(eq(rooms.id, room.id));
  return { room, users };
}

describe("a message for an offline member", () => {
  it("becomes exactly one in-app notification and one signed deployment webhook call", async () => {
    const { room, users } = await groupOf(["Ana", "Ben"]);
    const [ana, ben] = users as [(typeof users)[0], (typeof users)[0]];
    const seq = await send(room.id, ana.token, "lunch at noon?");

    const [call] = await waitFor(async () => {
      const calls = await deploymentCallsFor(ben.id);
      return calls.length > 0 && calls;
    });
    if (!call) throw new Error("no call");
    await queueIdle();
    expect(await deploymentCallsFor(ben.id)).toHaveLength(1);
    expect(await deploymentCallsFor(ana.id)).toHaveLength(0);
    expect(await signatureValid(call, env.NOTIFY_WEBHOOK_SECRET)).toBe(true);
    expect(await signatureValid({ ...call, body: call.body.replace("noon", "nine") }, env.NOTIFY_WEBHOOK_SECRET)).toBe(
      false,
    );
    const payload = JSON.parse(call.body);
    expect(call.headers["edgechat-delivery"]).toBe(payload.deliveryId);
    expect(payload.notification).toMatchObject({
      roomId: room.id,
      kind: "digest",
      firstSeq: seq,
      lastSeq: seq,
      messageCount: 1,
      text: "New message in #design from Ana",
      preview: "lunch at noon?",
      senders: [{ id: ana.id, displayName: "Ana" }],
    });

    const list = await inApp(ben.token);
    expect(list.notifications).toHaveLength(1);
    expect(list.notifications[0]).toMatchObject({ id: payload.notification.id, pending: false, read: false });
    expect(list.unread).toBe(1);
    expect((await api("GET", "/api/auth/me", ben.token)).json.unreadNotifications).toBe(1);
    expect((await inApp(ana.token)).notifications).toHaveLength(0);
  });

  it("digests several messages within the window into one, kept up to date until delivered", async () => {
    const { room, users } = await groupOf(["Ana", "Ben", "Cy", "Di"]);
    const [ana, ben, cy, di] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0], (typeof users)[0]];
    await send(room.id, ana.token, "one");
    await send(room.id, ben.token, "two");
    await send(room.id, cy.token, "three");
    await send(room.id, ana.token, "four");
    await send(room.id, ben.token, "five");
    // Inside the window the digest is already visible in-app and counts what has arrived so far.
    const early = await waitFor(async () => (await inApp(di.token)).notifications[0]);
    expect(early).toMatchObject({ kind: "digest" });

    const [call] = await waitFor(async () => {
      const calls = await deploymentCallsFor(di.id);
      return calls.length > 0 && calls;
    });
    await queueIdle();
    expect(await deploymentCallsFor(di.id)).toHaveLength(1);
    expect(JSON.parse(call?.body ?? "{}").notification).toMatchObject({
      messageCount: 5,
      text: "5 new messages in #design from Ana and 2 others",
      preview: "five",
    });
    const list = await inApp(di.token);
    expect(list.notifications).toHaveLength(1);
    expect(list.notifications[0]).toMatchObject({ messageCount: 5, pending: false });

    // After delivery the next message opens a new digest instead of changing the delivered one.
    await send(room.id, ana.token, "six");
    await waitFor(async () => (await deploymentCallsFor(di.id)).length === 2);
    const after = await inApp(di.token);
    expect(after.notifications.map((n) => n.messageCount)).toEqual([1, 5]);
  });

  it("notifies mentions and direct messages at once, as their own notifications", async () => {
    const { room, users } = await groupOf(["Ana", "Ben Ko", "Cy"]);
    const [ana, ben, cy] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
    await send(room.id, ana.token, "plain message");
    await send(room.id, ana.token, "@ben ko can you look?");
    const mention = await waitFor(async () =>
      (await deploymentCallsFor(ben.id)).find((c) => JSON.parse(c.body).notification.kind === "mention"),
    );
    expect(JSON.parse(mention.body).notification.text).toBe("Ana mentioned you in #design");
    // The digest for the plain message is still open when the mention has already gone out.
    const benList = await waitFor(async () => {
      const list = (await inApp(ben.token)).notifications;
      return list.length === 2 && list;
    });
    expect(benList.map((n) => [n.kind, n.pending]).sort()).toEqual([
      ["digest", true],
      ["mention", false],
    ]);
    // Cy was not mentioned: one digest with both messages.
    await waitFor(async () => (await deploymentCallsFor(cy.id)).length === 1);
    expect(JSON.parse((await deploymentCallsFor(cy.id))[0]?.body ?? "{}").notification.messageCount).toBe(2);

    const direct = await api("POST", "/api/rooms/direct", ana.token, { userId: cy.id });
    expect(direct.status).toBe(201);
    await send(direct.json.room.id, ana.token, "psst");
    const dm = await waitFor(async () =>
      (await deploymentCallsFor(cy.id)).find((c) => JSON.parse(c.body).notification.kind === "direct"),
    );
    expect(JSON.parse(dm.body).notification).toMatchObject({ text: "New message from Ana", preview: "psst" });
  });

  it("never notifies about a muted room, and again after unmuting", async () => {
    const { room, users } = await groupOf(["Ana", "Ben"]);
    const [ana, ben] = users as [(typeof users)[0], (typeof users)[0]];
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const muted = await api("PATCH", "/api/me/notification-settings", ben.token, {
      mute: [{ roomId: room.id, until }],
    });
    expect(muted.status).toBe(200);
    expect(muted.json.settings.mutedRooms).toEqual([{ roomId: room.id, until }]);
    await send(room.id, ana.token, "@Ben you will not hear this");
    await queueIdle();
    expect((await inApp(ben.token)).notifications).toHaveLength(0);
    expect(await deploymentCallsFor(ben.id)).toHaveLength(0);

    await api("PATCH", "/api/me/notification-settings", ben.token, { mute: [{ roomId: room.id, until: null }] });
    await send(room.id, ana.token, "now you will");
    await waitFor(async () => (await deploymentCallsFor(ben.id)).length === 1);
  });
});

describe("a personal webhook", () => {
  async function withPersonalHook() {
    const { room, users } = await groupOf(["Ana", "Ben"]);
    const [ana, ben] = users as [(typeof users)[0], (typeof users)[0]];
    const name = crypto.randomUUID();
    const res = await api("PATCH", "/api/me/notification-settings", ben.token, { webhookUrl: hookUrl(name) });
    expect(res.status).toBe(200);
    return { room, ana, ben, name, secret: res.json.settings.webhookSecret as string };
  }

  it("is signed with the user's own secret", async () => {
    const { room, ana, name, secret } = await withPersonalHook();
    await send(room.id, ana.token, "hello");
    const [call] = await waitFor(async () => {
      const calls = await receiverCalls(name);
      return calls.length > 0 && calls;
    });
    if (!call) throw new Error("no call");
    expect(secret).toMatch(/^whsec_/);
    expect(await signatureValid(call, secret)).toBe(true);
    expect(await signatureValid(call, env.NOTIFY_WEBHOOK_SECRET)).toBe(false);
  });

  it("is retried while the receiver fails or stalls, then delivered once", async () => {
    const { room, ana, ben, name } = await withPersonalHook();
    // Two errors, then one call that outlasts the 1 s timeout, then success.
    await failNext(name, 2, 503);
    await send(room.id, ana.token, "are you there?");
    await waitFor(async () => (await receiverCalls(name)).length === 2);
    await failNext(name, 1, 200, 2500);
    const calls = await waitFor(async () => {
      const all = await receiverCalls(name);
      return all.some((c, i) => i >= 3 && c.answered === 200) && all;
    }, 15_000);
    await queueIdle();
    expect(await receiverCalls(name)).toHaveLength(calls.length);
    const ids = new Set(calls.map((c) => c.headers["edgechat-delivery"]));
    expect(ids.size).toBe(1);
    const [n] = await db().select().from(notifications).where(eq(notifications.userId, ben.id));
    const delivered = await db()
      .select()
      .from(notificationDeliveries)
      .where(
        and(eq(notificationDeliveries.notificationId, n?.id ?? ""), eq(notificationDeliveries.target, "webhook:user")),
      );
    expect(delivered).toHaveLength(1);
  });

  it("lands in the dead letters with its last error after max retries", async () => {
    const { room, ana, ben, name } = await withPersonalHook();
    await failNext(name, 1000, 503);
    await send(room.id, ana.token, "nobody home");
    const [dead] = await waitFor(async () => {
      const rows = await db().select().from(deadLetters).where(eq(deadLetters.queue, "edgechat-notifications"));
      const mine = rows.filter((r) => (r.body as { notificationId?: string }).notificationId !== undefined);
      const [n] = await db().select().from(notifications).where(eq(notifications.userId, ben.id));
      const hit = mine.filter((r) => (r.body as { notificationId: string }).notificationId === n?.id);
      return hit.length > 0 && hit;
    }, 20_000);
    expect(dead).toMatchObject({ reason: "webhook receiver answered 503", attempts: 9 });
    expect(dead?.body).toMatchObject({ kind: "deliver", target: "webhook:user" });
    expect(await receiverCalls(name)).toHaveLength(9);
    // The deployment webhook was a separate delivery and went through.
    expect(await deploymentCallsFor(ben.id)).toHaveLength(1);
  });
});
