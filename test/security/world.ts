/**
 * One small world the adversarial tests attack: Ana owns a private group room with Ben in it, a message
 * (with Ben's reaction, Ana's pin and Ben's report of it), an uploaded attachment and a push subscription;
 * Eve is signed in and has
 * access to none of it. `snapshot` reads back everything an attack could change.
 */
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { attachments } from "../../src/db/attachment-schema";
import { reports } from "../../src/db/moderation-schema";
import { pushSubscriptions } from "../../src/db/notification-schema";
import { messageReactions, messages, pins, roomMembers, rooms, users } from "../../src/db/schema";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { browserKeys } from "../helpers/push-keys";

export type World = Awaited<ReturnType<typeof makeWorld>>;

export async function makeWorld() {
  const [ana, ben, eve] = await Promise.all([createUser("Ana"), createUser("Ben"), createUser("Eve")]);
  const room = await createRoom(ana.id, [ben.id]);
  const sent = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
    clientMsgId: crypto.randomUUID(),
    body: "the plan",
  });
  expect(sent.status).toBe(201);
  const seq = sent.json.message.seq as number;
  const reacted = await api("POST", `/api/messages/${room.id}/${seq}/reactions`, ben.token, { emoji: "👍" });
  expect(reacted.status).toBe(204);
  expect((await api("POST", `/api/messages/${room.id}/${seq}/pin`, ana.token)).status).toBeLessThan(300);
  const announced = await api("POST", `/api/rooms/${room.id}/attachments`, ana.token, {
    filename: "plan.txt",
    contentType: "text/plain",
    size: 5,
  });
  expect(announced.status).toBe(201);
  const attachmentId = announced.json.attachment.id as string;
  const put = await exports.default.fetch(`http://edgechat.test/api/attachments/${attachmentId}/content`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ana.token}`, "content-type": "text/plain" },
    body: "hello",
  });
  expect(put.status).toBe(200);
  await put.arrayBuffer();
  const sub = await api("POST", "/api/push/subscriptions", ana.token, {
    endpoint: `https://push.example.com/${crypto.randomUUID()}`,
    keys: await browserKeys(),
  });
  expect(sub.status).toBe(201);
  await drainOutbox(room.id);
  const report = await api("POST", `/api/rooms/${room.id}/reports`, ben.token, { seq, reason: "spam" });
  expect(report.status).toBe(201);
  return {
    ana,
    ben,
    eve,
    room,
    seq,
    attachmentId,
    subscriptionId: sub.json.subscription.id as string,
    reportId: report.json.report.id as string,
  };
}

/** Everything of the world that lives in Postgres, plus the owner's view of history through the room. */
export async function snapshot(w: World) {
  await drainOutbox(w.room.id);
  const d = db();
  const [room, members, msgs, reactions, pinned, files, subs, people, history, reported] = await Promise.all([
    d.select().from(rooms).where(eq(rooms.id, w.room.id)),
    d.select().from(roomMembers).where(eq(roomMembers.roomId, w.room.id)),
    d.select().from(messages).where(eq(messages.roomId, w.room.id)),
    d.select().from(messageReactions).where(eq(messageReactions.roomId, w.room.id)),
    d.select().from(pins).where(eq(pins.roomId, w.room.id)),
    d.select().from(attachments).where(eq(attachments.roomId, w.room.id)),
    d.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, w.ana.id)),
    d.select({ id: users.id, name: users.displayName, bannedAt: users.bannedAt }).from(users),
    api("GET", `/api/rooms/${w.room.id}/messages`, w.ana.token),
    d.select().from(reports).where(eq(reports.roomId, w.room.id)),
  ]);
  const mine = people.filter((p) => [w.ana.id, w.ben.id, w.eve.id].includes(p.id));
  const sort = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();
  return {
    room,
    members: sort(members),
    messages: sort(msgs),
    reactions: sort(reactions),
    pins: sort(pinned),
    files: sort(files),
    subs,
    people: sort(mine),
    history: history.json,
    reports: sort(reported),
  };
}
