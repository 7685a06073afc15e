/**
 * Integrations (issue 27), part 2: admins' product-event webhook endpoints, their dead letters, re-enabling
 * and replay. What is sent, and how, is in integrations/events.ts and integrations/webhooks.ts; the
 * payloads are in the OpenAPI document's `webhooks` section.
 */
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb, type Db } from "../../db/client";
import {
  integrationEvents,
  type WebhookEndpoint,
  webhookDeliveries,
  webhookEndpoints,
} from "../../db/integration-schema";
import { endpointProblem } from "../../lib/endpoint-policy";
import { logJson } from "../../lib/log";
import { AppError } from "../../protocol/errors";
import {
  createdEndpoint,
  createEndpointBody,
  deadLettersPage,
  deadLettersPageQuery,
  type EventType,
  endpointList,
  endpointReply,
  replayBody,
  replayReply,
  updateEndpointBody,
} from "../../protocol/events";
import { idPath } from "../../protocol/params";
import { envelope } from "../integrations/events";
import { pendingStreams, queueDrains, replayDeadLetters } from "../integrations/webhooks";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

export const webhookRoutes = new Hono<AppEnv>();

const NOT_FOUND = "Webhook endpoint not found";
const iso = (d: Date | null) => d?.toISOString() ?? null;

function checkUrl(env: Bindings, url: string): void {
  const problem = endpointProblem(url, env.ALLOW_LOOPBACK_ENDPOINTS === "true");
  if (problem) {
    throw new AppError(400, "validation_failed", "Some fields are invalid", {
      details: [{ field: "url", message: problem }],
    });
  }
}

/** Keyset cursor over (dead_at, event id); event ids are text (`<roomId>:<version>` or a uuid). */
function encodeCursor(at: string, eventId: string): string {
  return btoa(`${at}|${eventId}`).replaceAll("=", "");
}

function decodeCursor(cursor: string | undefined): { at: string; id: string } | null {
  if (!cursor) return null;
  try {
    const [at, id, extra] = atob(cursor).split("|");
    if (!at || !id || extra !== undefined || Number.isNaN(Date.parse(at)) || !/^[0-9a-f:-]{36,60}$/i.test(id)) {
      throw new Error("bad cursor");
    }
    return { at, id };
  } catch {
    throw new AppError(400, "validation_failed", "Invalid cursor", {
      details: [{ field: "cursor", message: "not a cursor from this API" }],
    });
  }
}

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const counts = {
  pending: sql<number>`(select count(*)::int from ${webhookDeliveries} where ${webhookDeliveries.endpointId} = ${webhookEndpoints.id} and ${webhookDeliveries.state} = 'pending')`,
  dead: sql<number>`(select count(*)::int from ${webhookDeliveries} where ${webhookDeliveries.endpointId} = ${webhookEndpoints.id} and ${webhookDeliveries.state} = 'dead')`,
};

async function endpoints(db: Db, where?: SQL) {
  const rows = await db
    .select({ endpoint: webhookEndpoints, ...counts })
    .from(webhookEndpoints)
    .where(where)
    .orderBy(desc(webhookEndpoints.createdAt))
    .limit(500);
  return rows.map(({ endpoint: e, pending, dead }) => view(e, pending, dead));
}

function view(e: WebhookEndpoint, pending: number, deadLetters: number) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes as EventType[],
    enabled: e.enabled,
    failingSince: iso(e.failingSince),
    disabledAt: iso(e.disabledAt),
    disabledReason: e.disabledReason,
    pending,
    deadLetters,
    createdAt: e.createdAt.toISOString(),
  };
}

async function one(db: Db, id: string) {
  const [endpoint] = await endpoints(db, eq(webhookEndpoints.id, id));
  if (!endpoint) throw new AppError(404, "not_found", NOT_FOUND);
  return endpoint;
}

const create = defineRoute({
  method: "post",
  path: "/api/admin/webhooks",
  summary: "Register a product-event webhook endpoint (its signing secret is shown once)",
  tag: "admin",
  auth: "admin",
  body: createEndpointBody,
  responses: { 201: { description: "The endpoint and its secret", schema: createdEndpoint } },
});
handle(webhookRoutes, create, async (c, { body }) => {
  checkUrl(c.env, body.url);
  const secret = newSecret();
  const db = createDb(c.env);
  const [row] = await db
    .insert(webhookEndpoints)
    .values({
      url: body.url,
      secret,
      eventTypes: body.eventTypes,
      description: body.description ?? null,
      createdBy: c.get("userId"),
    })
    .returning();
  if (!row) throw new Error("insert returned nothing");
  logJson("info", { msg: "webhook endpoint created", endpointId: row.id, admin: c.get("userId") });
  c.header("cache-control", "no-store");
  return c.json({ endpoint: view(row, 0, 0), secret }, 201);
});

const list = defineRoute({
  method: "get",
  path: "/api/admin/webhooks",
  summary: "Webhook endpoints with their pending deliveries and dead letters",
  tag: "admin",
  auth: "admin",
  responses: { 200: { description: "Endpoints", schema: endpointList } },
});
handle(webhookRoutes, list, async (c) => c.json({ endpoints: await endpoints(createDb(c.env)) }));

const get = defineRoute({
  method: "get",
  path: "/api/admin/webhooks/:id",
  summary: "A webhook endpoint",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: NOT_FOUND,
  responses: { 200: { description: "The endpoint", schema: endpointReply } },
});
handle(webhookRoutes, get, async (c, { params }) =>
  c.json({ endpoint: await one(createDb(c.env), params.id.toLowerCase()) }),
);

const update = defineRoute({
  method: "patch",
  path: "/api/admin/webhooks/:id",
  summary: "Change an endpoint; enabled: true re-enables a disabled one (and sends what is pending)",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: NOT_FOUND,
  body: updateEndpointBody,
  responses: { 200: { description: "The endpoint", schema: endpointReply } },
});
handle(webhookRoutes, update, async (c, { params, body }) => {
  const id = params.id.toLowerCase();
  if (body.url !== undefined) checkUrl(c.env, body.url);
  const db = createDb(c.env);
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      ...(body.url !== undefined ? { url: body.url } : {}),
      ...(body.eventTypes !== undefined ? { eventTypes: body.eventTypes } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.enabled === true ? { enabled: true, failingSince: null, disabledAt: null, disabledReason: null } : {}),
      ...(body.enabled === false
        ? { enabled: false, disabledAt: sql`now()`, disabledReason: "disabled by an admin" }
        : {}),
      updatedAt: sql`now()`,
    })
    .where(eq(webhookEndpoints.id, id))
    .returning({ id: webhookEndpoints.id });
  if (!row) throw new AppError(404, "not_found", NOT_FOUND);
  if (body.enabled === true) await queueDrains(c.env.NOTIFICATIONS, await pendingStreams(db, id));
  logJson("info", { msg: "webhook endpoint changed", endpointId: id, admin: c.get("userId"), enabled: body.enabled });
  return c.json({ endpoint: await one(db, id) });
});

const remove = defineRoute({
  method: "delete",
  path: "/api/admin/webhooks/:id",
  summary: "Delete an endpoint with its deliveries and dead letters",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: NOT_FOUND,
  responses: { 204: { description: "Deleted" } },
});
handle(webhookRoutes, remove, async (c, { params }) => {
  const [row] = await createDb(c.env)
    .delete(webhookEndpoints)
    .where(eq(webhookEndpoints.id, params.id.toLowerCase()))
    .returning({ id: webhookEndpoints.id });
  if (!row) throw new AppError(404, "not_found", NOT_FOUND);
  logJson("info", { msg: "webhook endpoint deleted", endpointId: row.id, admin: c.get("userId") });
  return c.body(null, 204);
});

const deadLetters = defineRoute({
  method: "get",
  path: "/api/admin/webhooks/:id/dead-letters",
  summary: "Events this endpoint will not be sent again unless replayed, newest first",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: NOT_FOUND,
  query: deadLettersPageQuery,
  responses: { 200: { description: "Dead letters", schema: deadLettersPage } },
});
handle(webhookRoutes, deadLetters, async (c, { params, query }) => {
  const id = params.id.toLowerCase();
  const after = decodeCursor(query.cursor);
  const db = createDb(c.env);
  await one(db, id);
  const deadAt = sql<string>`to_char(${webhookDeliveries.deadAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  const rows = await db
    .select({ delivery: webhookDeliveries, event: integrationEvents, deadAt })
    .from(webhookDeliveries)
    .innerJoin(integrationEvents, eq(integrationEvents.id, webhookDeliveries.eventId))
    .where(
      and(
        eq(webhookDeliveries.endpointId, id),
        eq(webhookDeliveries.state, "dead"),
        after
          ? sql`(${webhookDeliveries.deadAt}, ${webhookDeliveries.eventId}) < (${after.at}::timestamptz, ${after.id})`
          : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.deadAt), desc(webhookDeliveries.eventId))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return c.json({
    deadLetters: page.map(({ delivery, event, deadAt: at }) => ({
      eventId: event.id,
      type: event.type as EventType,
      roomId: event.roomId,
      version: event.version,
      attempts: delivery.attempts,
      lastStatus: delivery.lastStatus,
      lastError: delivery.lastError,
      deadAt: at,
      event: envelope(event),
    })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.deadAt, last.event.id) : null,
  });
});

const replay = defineRoute({
  method: "post",
  path: "/api/admin/webhooks/:id/replay",
  summary: "Send dead letters again (these event ids, or all), in order within each stream",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: NOT_FOUND,
  body: replayBody,
  responses: { 200: { description: "How many dead letters are pending again", schema: replayReply } },
});
handle(webhookRoutes, replay, async (c, { params, body }) => {
  const id = params.id.toLowerCase();
  const db = createDb(c.env);
  const endpoint = await one(db, id);
  if (!endpoint.enabled) throw new AppError(409, "conflict", "The endpoint is disabled: re-enable it first");
  const replayed = await replayDeadLetters(db, id, body.eventIds ?? null);
  await queueDrains(c.env.NOTIFICATIONS, await pendingStreams(db, id));
  logJson("info", { msg: "webhook dead letters replayed", endpointId: id, replayed, admin: c.get("userId") });
  return c.json({ replayed });
});
