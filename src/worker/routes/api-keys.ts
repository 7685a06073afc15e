/**
 * Integrations (issue 27), part 1: server credentials and bots.
 * - Admins create bots (users of kind "bot" that cannot sign in with a password) and API keys, each acting
 *   as a bot or as a new service identity, with scopes and optionally a list of rooms. A key is shown once.
 * - A key authenticates REST and a bot's WebSocket (`Authorization: Bearer ek_…`; see middleware/auth.ts
 *   and integrations/key-routes.ts for what each scope opens); revoking it refuses it from the next
 *   request on and closes its principal's sockets.
 * - Servers post `kind: "system"` messages into rooms (scope messages:system).
 */
import { and, desc, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { Hono, type MiddlewareHandler } from "hono";
import { createDb } from "../../db/client";
import { type ApiKey, apiKeys, botAccounts, type PrincipalKind } from "../../db/integration-schema";
import { toMessageView } from "../../db/message-view";
import { messages, rooms, users } from "../../db/schema";
import { logJson } from "../../lib/log";
import { AppError } from "../../protocol/errors";
import {
  type ApiKeyScope,
  type ApiKeyView,
  apiKeyList,
  apiKeyReply,
  apiKeysQuery,
  botList,
  botReply,
  createApiKeyBody,
  createBotBody,
  createdApiKey,
  keyIdentityReply,
  systemMessageBody,
} from "../../protocol/integrations";
import { idPath } from "../../protocol/params";
import { resentReply, sentReply } from "../../protocol/responses/messages";
import { type KeyIdentity, newApiKey } from "../integrations/keys";
import { apiKeyOf } from "../middleware/auth";
import { disconnectEverywhere, roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const apiKeyRoutes = new Hono<AppEnv>();

/** Principals' users rows: no address anyone can own, and a hash no password matches (see verifyPassword). */
const UNUSABLE_PASSWORD = "!integration";
const principalEmail = (kind: PrincipalKind, id: string) => `${kind}-${id}@integrations.edgechat.invalid`;

const KEY_NOT_FOUND = "API key not found";
const BOT_NOT_FOUND = "Bot not found";
const iso = (d: Date | null) => d?.toISOString() ?? null;

type KeyRow = { key: ApiKey; kind: PrincipalKind; displayName: string };

function keyView({ key, kind, displayName }: KeyRow): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes as ApiKeyScope[],
    roomIds: key.roomIds,
    principal: { id: key.principalId, kind, displayName },
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: iso(key.lastUsedAt),
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
  };
}

function keyRows(db: ReturnType<typeof createDb>, where: SQL | undefined) {
  return db
    .select({ key: apiKeys, kind: botAccounts.kind, displayName: users.displayName })
    .from(apiKeys)
    .innerJoin(botAccounts, eq(botAccounts.userId, apiKeys.principalId))
    .innerJoin(users, eq(users.id, apiKeys.principalId))
    .where(where);
}

// --- bots ----------------------------------------------------------------------------------------

const activeKeys = sql<number>`(select count(*)::int from ${apiKeys} where ${apiKeys.principalId} = ${botAccounts.userId}
  and ${apiKeys.revokedAt} is null and (${apiKeys.expiresAt} is null or ${apiKeys.expiresAt} > now()))`;

function botRows(db: ReturnType<typeof createDb>, where?: SQL) {
  return db
    .select({ bot: botAccounts, displayName: users.displayName, activeKeys })
    .from(botAccounts)
    .innerJoin(users, eq(users.id, botAccounts.userId))
    .where(and(eq(botAccounts.kind, "bot"), where))
    .orderBy(desc(botAccounts.createdAt))
    .limit(1000);
}

function botView(r: Awaited<ReturnType<typeof botRows>>[number]) {
  return {
    id: r.bot.userId,
    kind: "bot" as const,
    displayName: r.displayName,
    description: r.bot.description,
    createdBy: r.bot.createdBy,
    createdAt: r.bot.createdAt.toISOString(),
    activeKeys: r.activeKeys,
  };
}

const createBot = defineRoute({
  method: "post",
  path: "/api/admin/bots",
  summary: "Create a bot: a user of kind bot that acts only through API keys",
  tag: "admin",
  auth: "admin",
  body: createBotBody,
  responses: { 201: { description: "The bot; create a key for it next", schema: botReply } },
});
handle(apiKeyRoutes, createBot, async (c, { body }) => {
  const db = createDb(c.env);
  const id = crypto.randomUUID();
  await db.batch([
    db.insert(users).values({
      id,
      email: principalEmail("bot", id),
      displayName: body.displayName,
      passwordHash: UNUSABLE_PASSWORD,
      kind: "bot",
    }),
    db
      .insert(botAccounts)
      .values({ userId: id, kind: "bot", description: body.description ?? null, createdBy: c.get("userId") }),
  ]);
  const [row] = await botRows(db, eq(botAccounts.userId, id));
  if (!row) throw new Error("the new bot was not found");
  logJson("info", { msg: "bot created", botId: id, admin: c.get("userId") });
  return c.json({ bot: botView(row) }, 201);
});

const listBots = defineRoute({
  method: "get",
  path: "/api/admin/bots",
  summary: "Every bot, newest first",
  tag: "admin",
  auth: "admin",
  responses: { 200: { description: "Bots", schema: botList } },
});
handle(apiKeyRoutes, listBots, async (c) => {
  const rows = await botRows(createDb(c.env));
  return c.json({ bots: rows.map(botView) });
});

const getBot = defineRoute({
  method: "get",
  path: "/api/admin/bots/:id",
  summary: "A bot",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: BOT_NOT_FOUND,
  responses: { 200: { description: "The bot", schema: botReply } },
});
handle(apiKeyRoutes, getBot, async (c, { params }) => {
  const [row] = await botRows(createDb(c.env), eq(botAccounts.userId, params.id.toLowerCase()));
  if (!row) throw new AppError(404, "not_found", BOT_NOT_FOUND);
  return c.json({ bot: botView(row) });
});

// --- keys ----------------------------------------------------------------------------------------

const createKey = defineRoute({
  method: "post",
  path: "/api/admin/api-keys",
  summary: "Create an API key (shown once) for a bot or a new service identity",
  tag: "admin",
  auth: "admin",
  body: createApiKeyBody,
  responses: { 201: { description: "The key, shown this once, and its record", schema: createdApiKey } },
});
handle(apiKeyRoutes, createKey, async (c, { body }) => {
  const db = createDb(c.env);
  const admin = c.get("userId");
  if (body.roomIds) {
    const found = await db.select({ id: rooms.id }).from(rooms).where(inArray(rooms.id, body.roomIds));
    const known = new Set(found.map((r) => r.id));
    const missing = body.roomIds.filter((id) => !known.has(id.toLowerCase()));
    if (missing.length > 0) {
      throw new AppError(400, "validation_failed", "Some fields are invalid", {
        details: [{ field: "roomIds", message: `no such room: ${missing.join(", ")}` }],
      });
    }
  }
  const { key, prefix, hash } = await newApiKey();
  const keyId = crypto.randomUUID();
  const values = {
    id: keyId,
    name: body.name,
    prefix,
    keyHash: hash,
    scopes: body.scopes,
    roomIds: body.roomIds?.map((id) => id.toLowerCase()) ?? null,
    createdBy: admin,
    expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
  };
  if (body.botId) {
    const botId = body.botId.toLowerCase();
    const [bot] = await db
      .select({ id: botAccounts.userId })
      .from(botAccounts)
      .where(and(eq(botAccounts.userId, botId), eq(botAccounts.kind, "bot")))
      .limit(1);
    if (!bot) throw new AppError(404, "not_found", BOT_NOT_FOUND);
    await db.insert(apiKeys).values({ ...values, principalId: botId });
  } else {
    // A service identity of its own, named after the key: what it posts is marked as coming from it.
    const principalId = crypto.randomUUID();
    await db.batch([
      db.insert(users).values({
        id: principalId,
        email: principalEmail("service", principalId),
        displayName: body.name,
        passwordHash: UNUSABLE_PASSWORD,
        kind: "service",
      }),
      db.insert(botAccounts).values({ userId: principalId, kind: "service", createdBy: admin }),
      db.insert(apiKeys).values({ ...values, principalId }),
    ]);
  }
  const [row] = await keyRows(db, eq(apiKeys.id, keyId));
  if (!row) throw new Error("the new key was not found");
  logJson("info", { msg: "api key created", keyId, prefix, scopes: body.scopes, admin });
  c.header("cache-control", "no-store");
  return c.json({ key, apiKey: keyView(row) }, 201);
});

const listKeys = defineRoute({
  method: "get",
  path: "/api/admin/api-keys",
  summary: "API keys, newest first (never the keys themselves)",
  tag: "admin",
  auth: "admin",
  query: apiKeysQuery,
  responses: { 200: { description: "Keys", schema: apiKeyList } },
});
handle(apiKeyRoutes, listKeys, async (c, { query }) => {
  const rows = await keyRows(
    createDb(c.env),
    and(
      query.principalId ? eq(apiKeys.principalId, query.principalId.toLowerCase()) : undefined,
      query.includeRevoked === "true" ? undefined : isNull(apiKeys.revokedAt),
    ),
  )
    .orderBy(desc(apiKeys.createdAt))
    .limit(1000);
  return c.json({ apiKeys: rows.map(keyView) });
});

const getKey = defineRoute({
  method: "get",
  path: "/api/admin/api-keys/:id",
  summary: "An API key's record",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: KEY_NOT_FOUND,
  responses: { 200: { description: "The key's record", schema: apiKeyReply } },
});
handle(apiKeyRoutes, getKey, async (c, { params }) => {
  const [row] = await keyRows(createDb(c.env), eq(apiKeys.id, params.id.toLowerCase()));
  if (!row) throw new AppError(404, "not_found", KEY_NOT_FOUND);
  return c.json({ apiKey: keyView(row) });
});

const revokeKey = defineRoute({
  method: "delete",
  path: "/api/admin/api-keys/:id",
  summary: "Revoke an API key: refused from the next request on; its principal's sockets close (4001)",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: KEY_NOT_FOUND,
  responses: { 204: { description: "Revoked (also when it already was)" } },
});
handle(apiKeyRoutes, revokeKey, async (c, { params }) => {
  const id = params.id.toLowerCase();
  const db = createDb(c.env);
  const [key] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning({ principalId: apiKeys.principalId });
  if (!key) throw new AppError(404, "not_found", KEY_NOT_FOUND);
  // Sockets do not say which key opened them: the principal's all close, and reconnect with a live key.
  await disconnectEverywhere(c.env, db, key.principalId, "logged_out");
  logJson("info", { msg: "api key revoked", keyId: id, admin: c.get("userId") });
  return c.body(null, 204);
});

// --- what a key does -----------------------------------------------------------------------------

/** Before any input is read: these routes are for servers and bots, never for a user's token. */
const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await apiKeyOf(c))) throw new AppError(403, "forbidden", "This route is for API keys");
  await next();
};

const me = defineRoute({
  method: "get",
  path: "/api/integrations/me",
  summary: "Who this API key is: its principal (bot or service identity), scopes and rooms",
  tag: "integrations",
  middleware: [requireApiKey],
  responses: { 200: { description: "The key and its principal", schema: keyIdentityReply } },
});
handle(apiKeyRoutes, me, async (c) => {
  const key = (await apiKeyOf(c)) as KeyIdentity;
  const [user] = await createDb(c.env)
    .select({ displayName: users.displayName })
    .from(users)
    .where(eq(users.id, key.principalId))
    .limit(1);
  return c.json({
    principal: { id: key.principalId, kind: key.principalKind, displayName: user?.displayName ?? "" },
    key: { id: key.id, name: key.name, scopes: key.scopes, roomIds: key.roomIds },
  });
});

const systemMessage = defineRoute({
  method: "post",
  path: "/api/rooms/:id/system-messages",
  summary: "Post a kind: system message as a server (API keys with messages:system; idempotent on clientMsgId)",
  tag: "integrations",
  middleware: [requireApiKey],
  params: idPath,
  paramsError: "Room not found",
  body: systemMessageBody,
  responses: {
    200: { description: "A resend: the message first posted with this clientMsgId", schema: resentReply },
    201: { description: "The message", schema: sentReply },
  },
});
handle(apiKeyRoutes, systemMessage, async (c, { params, body }) => {
  const key = (await apiKeyOf(c)) as KeyIdentity;
  const roomId = params.id.toLowerCase();
  const [room] = await createDb(c.env).select({ id: rooms.id }).from(rooms).where(eq(rooms.id, roomId)).limit(1);
  if (!room) throw new AppError(404, "not_found", "Room not found");
  const actor = { roomId, userId: key.principalId, role: "admin" as const, requestId: c.get("requestId") };
  const result = await roomStub(c.env, roomId).command(actor, { type: "notice", ...body });
  switch (result.status) {
    case "accepted":
      return c.json({ message: result.message }, 201);
    case "duplicate": {
      // Older than the room's ring: the copy in Postgres (written through before the ring let it go).
      const [row] = result.message
        ? []
        : await createDb(c.env)
            .select()
            .from(messages)
            .where(and(eq(messages.roomId, roomId), eq(messages.seq, result.seq)))
            .limit(1);
      const message = result.message ?? (row ? toMessageView(row) : { roomId, seq: result.seq });
      return c.json({ message, duplicate: true }, 200);
    }
    case "rejected":
      throw new AppError(result.code === "internal" ? 500 : 422, result.code, result.message);
    default:
      throw new AppError(500, "internal", "The room answered a system message unexpectedly");
  }
});
