/**
 * Integrations (issue 27), the REST side: API keys, bots and service identities, system messages posted by
 * servers. Requests are strict (unknown fields refused); answers are typed from the same module.
 */
import { z } from "zod";
import { customData, MAX_BODY_CHARS, MAX_CLIENT_MSG_ID_CHARS } from "./frames";
import { id, timestamp } from "./responses/common";

/**
 * What a key may do. `messages:read`: rooms, history, members, pins, threads, search, downloads.
 * `messages:write`: send, edit, delete, react, pin, read marks, uploads, the room WebSocket.
 * `messages:system`: post `kind: "system"` messages into rooms (no membership needed).
 * `rooms:manage`: create rooms, change settings, invite and remove members, moderation.
 * `users:read`: the user directory. `admin`: the admin API (deployment-wide keys only).
 */
export const API_KEY_SCOPES = [
  "messages:read",
  "messages:write",
  "messages:system",
  "rooms:manage",
  "users:read",
  "admin",
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

const name = z.string().trim().min(1).max(64);
const description = z.string().trim().max(500);

export const MAX_KEY_ROOMS = 100;

export const createApiKeyBody = z
  .strictObject({
    name,
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .min(1)
      .max(API_KEY_SCOPES.length)
      .refine((s) => new Set(s).size === s.length, "must not repeat a scope"),
    /** Only these rooms (absent: every room the key's principal may act in). */
    roomIds: z
      .array(z.uuid())
      .min(1)
      .max(MAX_KEY_ROOMS)
      .refine((s) => new Set(s).size === s.length, "must not repeat a room")
      .optional(),
    /** Act as this bot (POST /api/admin/bots); absent: a new service identity named after the key. */
    botId: z.uuid().optional(),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.roomIds && b.scopes.includes("admin")) {
      ctx.addIssue({ code: "custom", path: ["roomIds"], message: "an admin key is deployment-wide" });
    }
    if (b.expiresAt && Date.parse(b.expiresAt) <= Date.now()) {
      ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "must be in the future" });
    }
  });

export const apiKeysQuery = z.strictObject({
  principalId: z.uuid().optional(),
  includeRevoked: z.enum(["true", "false"]).optional(),
});

export const principalKind = z.enum(["bot", "service"]);

export const principalView = z.object({ id, kind: principalKind, displayName: z.string() });

export const apiKeyView = z.object({
  id,
  name: z.string(),
  /** The key's first characters, to recognise it; never enough to use it. */
  prefix: z.string(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  roomIds: z.array(id).nullable(),
  principal: principalView,
  createdBy: id.nullable(),
  createdAt: timestamp,
  lastUsedAt: timestamp.nullable(),
  expiresAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeyView>;

export const createdApiKey = z.object({
  /** The key itself, shown this once: `Authorization: Bearer <key>`. Only its hash is stored. */
  key: z.string(),
  apiKey: apiKeyView,
});
export const apiKeyReply = z.object({ apiKey: apiKeyView });
export const apiKeyList = z.object({ apiKeys: z.array(apiKeyView) });

export const createBotBody = z.strictObject({ displayName: name, description: description.optional() });

export const botView = z.object({
  id,
  kind: z.literal("bot"),
  displayName: z.string(),
  description: z.string().nullable(),
  createdBy: id.nullable(),
  createdAt: timestamp,
  /** Keys that can act as this bot now (neither revoked nor expired). */
  activeKeys: z.number().int().min(0),
});
export const botReply = z.object({ bot: botView });
export const botList = z.object({ bots: z.array(botView) });

/** Who a key is: GET /api/integrations/me. */
export const keyIdentityReply = z.object({
  principal: principalView,
  key: z.object({ id, name: z.string(), scopes: z.array(z.enum(API_KEY_SCOPES)), roomIds: z.array(id).nullable() }),
});

/** A system message a server posts into a room: idempotent on clientMsgId, like a send. */
export const systemMessageBody = z.strictObject({
  clientMsgId: z
    .string()
    .min(1)
    .max(MAX_CLIENT_MSG_ID_CHARS)
    .regex(/^[A-Za-z0-9_\-.:]+$/, "letters, digits and _ - . : only")
    // The room's own system messages are "system:<version>" (a principal can also be a membership actor).
    .refine((id) => !id.startsWith("system:"), "the system: prefix is reserved"),
  body: z
    .string()
    .max(MAX_BODY_CHARS, `at most ${MAX_BODY_CHARS} characters`)
    .refine((b) => b.trim().length > 0, "must not be empty"),
  custom: customData.optional(),
});
