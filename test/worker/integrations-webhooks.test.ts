/**
 * Integrations, part 2 (issue 27): product-event webhooks. Room events come from the change log with the
 * room's version, are signed, delivered at least once and once per event id in effect (a receiver that
 * dedupes on the id sees each once), in version order per room, through receiver failures; retries end in
 * dead letters per endpoint, replayable; an endpoint failing for too long is disabled and can be
 * re-enabled. Lifecycle events come from database triggers. Every bad input is a 4xx with a stable code.
 */
import { env, exports } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { webhookDeliveries, webhookEndpoints } from "../../src/db/integration-schema";
import { EVENT_TYPES, type ProductEvent } from "../../src/protocol/events";
import { integrationsEveryMinute } from "../../src/worker/integrations/jobs";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createAdmin } from "../helpers/integrations";
import { failNext, hookUrl, receiverCalls, signatureValid, waitFor } from "../helpers/notify";

const made: string[] = [];

/** Endpoints are deployment-wide: each test deletes its own, so no other test file's rooms feed them. */
afterEach(async () => {
  for (const id of made.splice(0)) await db().delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
});

async function endpoint(adminToken: string, eventTypes: string[]) {
  const name = `events-${crypto.randomUUID()}`;
  const res = await api("POST", "/api/admin/webhooks", adminToken, { url: hookUrl(name), eventTypes });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  made.push(res.json.endpoint.id);
  return { name, id: res.json.endpoint.id as string, secret: res.json.secret as string };
}

/**
 * Waits on the thing itself: the rooms' outboxes written through, their logs turned into events (cursor at
 * the room's version, no lease), and the endpoint with nothing pending or being sent. (The queue watch
 * cannot count jobs queued from REST routes, which replay and re-enable do.)
 */
async function settled(endpointId: string, roomIds: string[]): Promise<void> {
  for (const roomId of roomIds) await drainOutbox(roomId);
  await waitFor(async () => {
    const { rows } = await db().execute<{ busy: number }>(sql`
      select (
        (select count(*) from rooms r left join room_event_cursors c on c.room_id = r.id
          where r.id = any(${sql.param(roomIds)}::uuid[]) and (c.through is null or c.through < r.version or c.lease_until > now()))
        + (select count(*) from webhook_deliveries where endpoint_id = ${endpointId}::uuid and state = 'pending')
        + (select count(*) from webhook_streams where endpoint_id = ${endpointId}::uuid and lease_until > now())
      )::int as busy`);
    return rows[0]?.busy === 0;
  }, 15_000);
}

/** Calls the receiver got about one room (every endpoint sees every room of the deployment). */
async function callsAbout(name: string, roomId: string | null) {
  const calls = await receiverCalls(name);
  return calls
    .map((c) => ({ call: c, event: JSON.parse(c.body) as ProductEvent }))
    .filter(({ event }) => roomId === null || event.roomId === roomId);
}

const send = (roomId: string, token: string, body: string) =>
  api("POST", `/api/rooms/${roomId}/messages`, token, { clientMsgId: crypto.randomUUID(), body });

describe("room events", () => {
  it("arrive signed, in version order, each id delivered once despite receiver failures", async () => {
    const admin = await createAdmin();
    const types = ["message.created", "message.edited", "message.deleted", "reaction.changed"];
    const hook = await endpoint(admin.token, types);
    const [owner, member] = [await createUser("owner"), await createUser("member")];
    const room = await createRoom(owner.id, [member.id]);
    await failNext(hook.name, 2, 500);
    for (const body of ["one", "two", "three"]) expect((await send(room.id, owner.token, body)).status).toBe(201);
    expect((await api("PATCH", `/api/messages/${room.id}/2`, owner.token, { body: "two, edited" })).status).toBe(200);
    expect((await api("POST", `/api/messages/${room.id}/1/reactions`, member.token, { emoji: "👍" })).status).toBe(204);
    expect((await api("DELETE", `/api/messages/${room.id}/3`, owner.token)).status).toBe(204);
    await settled(hook.id, [room.id]);

    const calls = await callsAbout(hook.name, room.id);
    const delivered = calls.filter(({ call }) => call.answered === 200).map(({ event }) => event);
    expect(delivered.map((e) => e.type)).toEqual([
      "message.created",
      "message.created",
      "message.created",
      "message.edited",
      "reaction.changed",
      "message.deleted",
    ]);
    // One success per event id, versions increasing: a receiver can order and dedupe per room.
    expect(new Set(delivered.map((e) => e.id)).size).toBe(6);
    const versions = delivered.map((e) => e.version as number);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(delivered.map((e) => e.id)).toEqual(versions.map((v) => `${room.id}:${v}`));
    // The two failed calls were the first event, sent again under the same id and delivery header.
    const failed = calls.filter(({ call }) => call.answered !== 200);
    expect(failed.map(({ event }) => event.id)).toEqual([delivered[0]?.id, delivered[0]?.id]);
    for (const { call, event } of calls) {
      expect(await signatureValid(call, hook.secret)).toBe(true);
      expect(call.headers["edgechat-delivery"]).toBe(`${hook.id}:${event.id}`);
    }
    expect(delivered[0]?.data).toMatchObject({ message: { seq: 1, body: "one", senderId: owner.id } });
    expect(delivered[3]?.data).toEqual({ seq: 2, body: "two, edited", editedAt: expect.any(String) });
    expect(delivered[4]?.data).toEqual({ seq: 1, userId: member.id, emoji: "👍", on: true });
    expect(delivered[5]?.data).toEqual({ seq: 3, deletedAt: expect.any(String) });
    const rows = await db().select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, hook.id));
    const mine = rows.filter((r) => r.stream === room.id);
    expect(mine.map((r) => r.state)).toEqual(Array(6).fill("delivered"));
    expect(mine.find((r) => r.eventId === delivered[0]?.id)?.attempts).toBe(3);
  });

  it("only the types an endpoint asked for, and member events with their change", async () => {
    const admin = await createAdmin();
    const hook = await endpoint(admin.token, ["member.added", "member.removed", "room.updated"]);
    const [owner, guest] = [await createUser("owner"), await createUser("guest")];
    const created = await api("POST", "/api/rooms", owner.token, { name: "events room" });
    const roomId = created.json.room.id as string;
    expect((await api("POST", `/api/rooms/${roomId}/members`, owner.token, { userId: guest.id })).status).toBe(201);
    expect((await api("PATCH", `/api/rooms/${roomId}`, owner.token, { topic: "plans" })).status).toBe(200);
    expect((await send(roomId, owner.token, "not asked for")).status).toBe(201);
    expect((await api("DELETE", `/api/rooms/${roomId}/members/${guest.id}`, owner.token)).status).toBe(204);
    await settled(hook.id, [roomId]);
    const events = (await callsAbout(hook.name, roomId)).map(({ event }) => event);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["member.added", { userId: owner.id, role: "owner", by: owner.id }],
      ["member.added", { userId: guest.id, role: "member", by: owner.id }],
      ["room.updated", { changes: { topic: "plans" }, by: owner.id }],
      ["member.removed", { userId: guest.id, change: "removed", by: owner.id }],
    ]);
  });
});

describe("dead letters, replay, disabling", () => {
  it("makes an event an endpoint's dead letter after its attempts, moves on, and replays it", async () => {
    const admin = await createAdmin();
    const hook = await endpoint(admin.token, ["message.created"]);
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    await failNext(hook.name, 10, 502);
    await send(room.id, owner.token, "doomed");
    await send(room.id, owner.token, "fine");
    await settled(hook.id, [room.id]);
    const dead = await api("GET", `/api/admin/webhooks/${hook.id}/dead-letters`, admin.token);
    expect(dead.status).toBe(200);
    expect(dead.json.deadLetters).toHaveLength(1);
    expect(dead.json.deadLetters[0]).toMatchObject({
      eventId: `${room.id}:1`,
      type: "message.created",
      version: 1,
      attempts: 10,
      lastStatus: 502,
      event: { id: `${room.id}:1`, data: { message: { body: "doomed" } } },
    });
    const afterDeath = (await callsAbout(hook.name, room.id)).filter(({ call }) => call.answered === 200);
    expect(afterDeath.map(({ event }) => event.id)).toEqual([`${room.id}:2`]);
    const listed = await api("GET", `/api/admin/webhooks/${hook.id}`, admin.token);
    expect(listed.json.endpoint).toMatchObject({ deadLetters: 1, pending: 0, enabled: true });

    const replay = await api("POST", `/api/admin/webhooks/${hook.id}/replay`, admin.token, { all: true });
    expect(replay.json).toEqual({ replayed: 1 });
    const redelivered = await waitFor(async () => {
      const ok = (await callsAbout(hook.name, room.id)).filter(({ call }) => call.answered === 200);
      return ok.length === 2 ? ok : null;
    });
    expect(redelivered.map(({ event }) => event.id)).toEqual([`${room.id}:2`, `${room.id}:1`]);
    const empty = await api("GET", `/api/admin/webhooks/${hook.id}/dead-letters`, admin.token);
    expect(empty.json).toEqual({ deadLetters: [], nextCursor: null });
  });

  it("disables an endpoint failing past the window, keeps its events as dead letters, and re-enables", async () => {
    const admin = await createAdmin();
    const hook = await endpoint(admin.token, ["message.created"]);
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    // It has been failing for four days (the window is three): the next failure disables it.
    await db()
      .update(webhookEndpoints)
      .set({ failingSince: sql`now() - interval '4 days'` })
      .where(eq(webhookEndpoints.id, hook.id));
    await failNext(hook.name, 1, 500);
    await send(room.id, owner.token, "lost for now");
    await settled(hook.id, [room.id]);
    const disabled = await api("GET", `/api/admin/webhooks/${hook.id}`, admin.token);
    expect(disabled.json.endpoint).toMatchObject({ enabled: false, deadLetters: 1, pending: 0 });
    expect(disabled.json.endpoint.disabledReason).toMatch(/failing for over 259200 s/);
    expect((await api("POST", `/api/admin/webhooks/${hook.id}/replay`, admin.token, { all: true })).status).toBe(409);
    // While disabled, nothing is sent.
    await send(room.id, owner.token, "while disabled");
    await drainOutbox(room.id);
    expect((await callsAbout(hook.name, room.id)).length).toBe(1);

    const enabled = await api("PATCH", `/api/admin/webhooks/${hook.id}`, admin.token, { enabled: true });
    expect(enabled.json.endpoint).toMatchObject({ enabled: true, failingSince: null, disabledAt: null });
    const replay = await api("POST", `/api/admin/webhooks/${hook.id}/replay`, admin.token, {
      eventIds: [`${room.id}:1`],
    });
    expect(replay.json).toEqual({ replayed: 1 });
    const ok = await waitFor(async () => {
      const calls = (await callsAbout(hook.name, room.id)).filter(({ call }) => call.answered === 200);
      return calls.length > 0 ? calls : null;
    });
    expect(ok.map(({ event }) => event.data)).toMatchObject([{ message: { body: "lost for now" } }]);
  });
});

describe("lifecycle events from the database", () => {
  it("user created and banned, room created (ahead of its changes) and deleted, report created", async () => {
    const admin = await createAdmin();
    const hook = await endpoint(admin.token, [
      "user.created",
      "user.banned",
      "room.created",
      "room.deleted",
      "member.added",
      "report.created",
    ]);
    const email = `events-${crypto.randomUUID()}@example.test`;
    const reg = await api("POST", "/api/auth/register", undefined, {
      email,
      displayName: "Newcomer",
      password: "correct horse battery",
    });
    expect(reg.status).toBe(201);
    const user = reg.json.user as { id: string };
    const created = await api("POST", "/api/rooms", reg.json.accessToken, { name: "lifecycle", members: [admin.id] });
    const roomId = created.json.room.id as string;
    const sent = await send(roomId, reg.json.accessToken, "report me");
    await drainOutbox(roomId);
    const report = await api("POST", `/api/rooms/${roomId}/reports`, admin.token, {
      seq: sent.json.message.seq,
      reason: "spam",
    });
    expect(report.status, JSON.stringify(report.json)).toBe(201);
    expect((await api("POST", `/api/admin/users/${user.id}/ban`, admin.token, { reason: "spam" })).status).toBe(200);
    await settled(hook.id, [roomId]);
    // Deleted last (a deleted room's object has no outbox left to wait for).
    expect((await api("DELETE", `/api/admin/rooms/${roomId}`, admin.token)).status).toBe(204);
    await integrationsEveryMinute(env);
    const events = await waitFor(async () => {
      const all = (await callsAbout(hook.name, null)).map(({ event }) => event);
      const about = all.filter((e) => e.roomId === roomId || JSON.stringify(e.data).includes(user.id));
      return about.some((e) => e.type === "room.deleted") && about.some((e) => e.type === "user.banned") ? about : null;
    });
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t !== "member.added")).toEqual(
      expect.arrayContaining(["user.created", "room.created", "report.created", "user.banned", "room.deleted"]),
    );
    expect(events.find((e) => e.type === "user.created")?.data).toMatchObject({
      user: { id: user.id, displayName: "Newcomer", kind: "user" },
    });
    expect(events.find((e) => e.type === "user.banned")?.data).toMatchObject({ user: { id: user.id }, reason: "spam" });
    expect(events.find((e) => e.type === "report.created")?.data).toMatchObject({
      report: { roomId, reporterId: admin.id, targetUserId: user.id, reason: "spam" },
    });
    // In the room's stream, its creation comes before its first change and its deletion last.
    const inRoom = events.filter((e) => e.roomId === roomId && e.type !== "report.created").map((e) => e.type);
    expect(inRoom[0]).toBe("room.created");
    expect(inRoom[inRoom.length - 1]).toBe("room.deleted");
    // Lifecycle events have ids of their own and no version.
    expect(events.find((e) => e.type === "room.created")).toMatchObject({ version: null, id: expect.any(String) });
  });

  it("records nothing when no endpoint asked for the type", async () => {
    const before = await db().execute(
      sql`select count(*)::int as n from integration_events where type = 'user.deleted'`,
    );
    await createUser("quiet");
    const after = await db().execute(
      sql`select count(*)::int as n from integration_events where type = 'user.deleted'`,
    );
    expect(after.rows).toEqual(before.rows);
    const created = await db().execute<{ n: number }>(
      sql`select count(*)::int as n from integration_events where type = 'user.created' and data->'user'->>'displayName' = 'quiet'`,
    );
    expect(created.rows[0]?.n).toBe(0);
  });
});

describe("the admin API of endpoints", () => {
  it("refuses bad input with a stable code", async () => {
    const admin = await createAdmin();
    const hook = await endpoint(admin.token, ["message.created"]);
    const unknown = crypto.randomUUID();
    const cases: [string, string, unknown, number, string, string?][] = [
      [
        "POST",
        "/api/admin/webhooks",
        { url: "ftp://example.com/x", eventTypes: ["message.created"] },
        400,
        "validation_failed",
        "url",
      ],
      [
        "POST",
        "/api/admin/webhooks",
        { url: "not a url", eventTypes: ["message.created"] },
        400,
        "validation_failed",
        "url",
      ],
      ["POST", "/api/admin/webhooks", { url: hookUrl("x"), eventTypes: [] }, 400, "validation_failed", "eventTypes"],
      [
        "POST",
        "/api/admin/webhooks",
        { url: hookUrl("x"), eventTypes: ["message.sent"] },
        400,
        "validation_failed",
        "eventTypes.0",
      ],
      [
        "POST",
        "/api/admin/webhooks",
        { url: hookUrl("x"), eventTypes: ["room.created"], secret: "mine" },
        400,
        "validation_failed",
      ],
      ["PATCH", `/api/admin/webhooks/${hook.id}`, {}, 400, "validation_failed"],
      ["PATCH", `/api/admin/webhooks/${hook.id}`, { enabled: "yes" }, 400, "validation_failed", "enabled"],
      ["PATCH", `/api/admin/webhooks/${unknown}`, { enabled: true }, 404, "not_found"],
      ["GET", "/api/admin/webhooks/nope", undefined, 404, "not_found"],
      ["DELETE", `/api/admin/webhooks/${unknown}`, undefined, 404, "not_found"],
      ["POST", `/api/admin/webhooks/${hook.id}/replay`, {}, 400, "validation_failed"],
      ["POST", `/api/admin/webhooks/${hook.id}/replay`, { all: true, eventIds: ["a"] }, 400, "validation_failed"],
      ["POST", `/api/admin/webhooks/${unknown}/replay`, { all: true }, 404, "not_found"],
      ["GET", `/api/admin/webhooks/${hook.id}/dead-letters?cursor=zzz`, undefined, 400, "validation_failed", "cursor"],
      ["GET", `/api/admin/webhooks/${hook.id}/dead-letters?limit=0`, undefined, 400, "validation_failed", "limit"],
    ];
    for (const [method, path, body, status, code, field] of cases) {
      const res = await api(method, path, admin.token, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.json)}`).toBe(status);
      expect(res.json.error.code).toBe(code);
      if (field) expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    // Hidden from everyone but admins.
    const user = await createUser("someone");
    expect((await api("GET", "/api/admin/webhooks", user.token)).status).toBe(404);
    // The secret is shown once: never in a listing.
    const listed = await api("GET", "/api/admin/webhooks", admin.token);
    expect(JSON.stringify(listed.json)).not.toContain(hook.secret);
    const updated = await api("PATCH", `/api/admin/webhooks/${hook.id}`, admin.token, {
      eventTypes: ["message.created", "message.deleted"],
      description: "ops",
    });
    expect(updated.json.endpoint).toMatchObject({
      eventTypes: ["message.created", "message.deleted"],
      description: "ops",
    });
    expect((await api("DELETE", `/api/admin/webhooks/${hook.id}`, admin.token)).status).toBe(204);
    const gone = await db()
      .select()
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, hook.id)));
    expect(gone).toEqual([]);
  });

  it("documents every event type's payload in the OpenAPI webhooks section", async () => {
    const doc = (await (await exports.default.fetch("http://edgechat.test/openapi.json")).json()) as {
      webhooks: Record<
        string,
        { post: { requestBody: { content: Record<string, { schema: { properties: object } }> } } }
      >;
    };
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    const created = doc.webhooks["message.created"]?.post.requestBody.content["application/json"]?.schema;
    expect(Object.keys(created?.properties ?? {})).toEqual(["id", "type", "occurredAt", "roomId", "version", "data"]);
  });
});
