/**
 * Which routes an API key may call, with which scope, and how a key limited to some rooms is held to
 * them. Default deny: a route missing here (every /api/me route, notifications, push, tickets, logout and
 * whatever is added later) answers 403 to a key until someone decides which scope it needs.
 *
 * `rooms` says where the route's room is: "path" (its `:id` under /api/rooms or its `:roomId`), "query"
 * (`?roomId=`, required for room-limited keys), "attachment" (the room of the attachment `:id`), "none"
 * (the route names no room: allowed to every key) or "refuse" (lists or creates rooms: refused to
 * room-limited keys, which could otherwise reach rooms outside their list).
 */
import { and, eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { attachments } from "../../db/attachment-schema";
import { createDb } from "../../db/client";
import { AppError } from "../../protocol/errors";
import type { ApiKeyScope } from "../../protocol/integrations";
import { apiKeyOf } from "../middleware/auth";
import type { RouteSpec } from "../route-table";
import type { AppEnv } from "../types";

export interface KeyRule {
  /** null: any key (the route says who the key is). */
  scope: ApiKeyScope | null;
  rooms: "path" | "query" | "attachment" | "none" | "refuse";
}

const read: KeyRule = { scope: "messages:read", rooms: "path" };
const write: KeyRule = { scope: "messages:write", rooms: "path" };
const manage: KeyRule = { scope: "rooms:manage", rooms: "path" };

export const KEY_ROUTES: Record<string, KeyRule> = {
  "GET /api/integrations/me": { scope: null, rooms: "none" },
  "GET /api/auth/me": { scope: null, rooms: "none" },
  "GET /api/users": { scope: "users:read", rooms: "none" },
  // Reading
  "GET /api/rooms": { scope: "messages:read", rooms: "refuse" },
  "GET /api/rooms/:id": read,
  "GET /api/rooms/:id/members": read,
  "GET /api/rooms/:id/messages": read,
  "GET /api/rooms/:id/pins": read,
  "GET /api/messages/:roomId/:seq/thread": read,
  "GET /api/search": { scope: "messages:read", rooms: "query" },
  "GET /api/attachments/:id": { scope: "messages:read", rooms: "attachment" },
  // Writing, as the key's principal (a bot must be a member, as a user must)
  "POST /api/rooms/:id/messages": write,
  "PATCH /api/messages/:roomId/:seq": write,
  "DELETE /api/messages/:roomId/:seq": write,
  "POST /api/rooms/:id/read": write,
  "POST /api/messages/:roomId/:seq/reactions": write,
  "DELETE /api/messages/:roomId/:seq/reactions/:emoji": write,
  "POST /api/messages/:roomId/:seq/pin": write,
  "DELETE /api/messages/:roomId/:seq/pin": write,
  "POST /api/rooms/:id/attachments": write,
  "PUT /api/attachments/:id/content": { scope: "messages:write", rooms: "attachment" },
  // A bot's socket: Authorization: Bearer <key> on the upgrade, or a ticket the key minted (the SDK's way:
  // its socket factory takes a URL only, like a browser's WebSocket).
  "GET /api/rooms/:id/ws": write,
  "POST /api/rooms/:id/ws-ticket": write,
  "POST /api/rooms/:id/system-messages": { scope: "messages:system", rooms: "path" },
  // Managing rooms
  "POST /api/rooms": { scope: "rooms:manage", rooms: "refuse" },
  "POST /api/rooms/direct": { scope: "rooms:manage", rooms: "refuse" },
  "PATCH /api/rooms/:id": manage,
  "POST /api/rooms/:id/join": manage,
  "POST /api/rooms/:id/leave": manage,
  "POST /api/rooms/:id/members": manage,
  "DELETE /api/rooms/:id/members/:userId": manage,
  "GET /api/rooms/:id/sanctions": manage,
  "PUT /api/rooms/:id/bans/:userId": manage,
  "DELETE /api/rooms/:id/bans/:userId": manage,
  "PUT /api/rooms/:id/mutes/:userId": manage,
  "DELETE /api/rooms/:id/mutes/:userId": manage,
  "DELETE /api/rooms/:id/members/:userId/messages": manage,
  "GET /api/rooms/:id/reports": manage,
  "GET /api/rooms/:id/retention": read,
  "PUT /api/rooms/:id/retention": manage,
  "DELETE /api/rooms/:id/retention": manage,
  "PATCH /api/rooms/:id/reports/:reportId": manage,
};

/** What a key may do on a route; admin routes all need `admin` (requireAdmin checks it first). */
export function keyRule(spec: Pick<RouteSpec, "method" | "path" | "auth">): KeyRule | null {
  if (spec.auth === "admin") return { scope: "admin", rooms: "none" };
  return KEY_ROUTES[`${spec.method.toUpperCase()} ${spec.path}`] ?? null;
}

function refused(message: string, details?: unknown): AppError {
  return new AppError(403, "forbidden", message, details === undefined ? {} : { details });
}

/**
 * Mounted on every declared route by `handle` (route.ts), after the route's own guard: a request with a
 * user's token or none passes untouched; one with an API key must hold the route's scope and stay in its
 * rooms. A key that is not valid is left to the route's guard (401), or to the handler for "own" routes.
 */
export function apiKeyGuard(spec: RouteSpec): MiddlewareHandler<AppEnv> {
  const rule = keyRule(spec);
  return async (c, next) => {
    if (spec.auth === "none") return next();
    const key = await apiKeyOf(c);
    if (!key) return next();
    if (!rule) throw refused("API keys cannot use this route");
    if (rule.scope && !key.scopes.includes(rule.scope)) {
      throw refused(`This API key lacks the ${rule.scope} scope`, { requiredScope: rule.scope });
    }
    if (key.roomIds === null) return next();
    const allowed = new Set(key.roomIds);
    const outside = () => refused("This API key is limited to other rooms");
    switch (rule.rooms) {
      case "none":
        break;
      case "refuse":
        throw refused("An API key limited to rooms cannot list or create rooms");
      case "query": {
        const roomId = c.req.query("roomId")?.toLowerCase();
        if (!roomId) throw refused("An API key limited to rooms must name one (roomId)");
        if (!allowed.has(roomId)) throw outside();
        break;
      }
      case "attachment": {
        const fileId = c.req.param("id") ?? "";
        if (!/^[0-9a-f-]{36}$/i.test(fileId)) break; // the route answers 404 for a malformed id
        const [file] = await createDb(c.env)
          .select({ roomId: attachments.roomId })
          .from(attachments)
          .where(and(eq(attachments.id, fileId.toLowerCase())))
          .limit(1);
        if (file && !allowed.has(file.roomId)) throw outside();
        break;
      }
      case "path": {
        const roomId = (c.req.param("roomId") ?? c.req.param("id") ?? "").toLowerCase();
        if (!allowed.has(roomId)) throw outside();
        break;
      }
    }
    return next();
  };
}
