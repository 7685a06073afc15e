/**
 * The OpenAPI 3.1 document, built from the same zod schemas that validate requests, so the two cannot
 * drift apart. A test checks that every route the app serves is listed here.
 */
import { z } from "zod";
import { banBody, deadLettersQuery, userLookupQuery } from "../protocol/admin";
import { loginBody, refreshBody, registerBody, updateMeBody } from "../protocol/auth";
import { ERROR_CODES } from "../protocol/errors";
import { editMessage, sendMessage } from "../protocol/frames";
import { markReadBody, notificationsQuery, pushSubscriptionBody, settingsPatch } from "../protocol/notifications";
import {
  createAttachmentBody,
  createRoomBody,
  directRoomBody,
  historyQuery,
  inviteBody,
  pageQuery,
  reactionBody,
  readBody,
  searchQuery,
  threadQuery,
  updateRoomBody,
  userSearchQuery,
} from "../protocol/rooms";

interface RouteDoc {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  summary: string;
  tag: string;
  auth?: boolean;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Success status and what it carries. */
  ok: [number, string];
}

const idParams = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);

export const ROUTES: RouteDoc[] = [
  {
    method: "get",
    path: "/health",
    summary: "Postgres and Redis status (503 naming what is down)",
    tag: "health",
    auth: false,
    ok: [200, "Status"],
  },
  { method: "get", path: "/health/ready", summary: "Same as /health", tag: "health", auth: false, ok: [200, "Status"] },
  {
    method: "get",
    path: "/health/live",
    summary: "Liveness: the worker answers (no dependency checks)",
    tag: "health",
    auth: false,
    ok: [200, "OK"],
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This document",
    tag: "meta",
    auth: false,
    ok: [200, "OpenAPI document"],
  },
  { method: "get", path: "/docs", summary: "Interactive API reference", tag: "meta", auth: false, ok: [200, "HTML"] },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (off unless METRICS_ENABLED; METRICS_TOKEN or an admin token)",
    tag: "meta",
    ok: [200, "Prometheus text format 0.0.4"],
  },
  {
    method: "post",
    path: "/api/auth/register",
    summary: "Create an account and sign in",
    tag: "auth",
    auth: false,
    body: registerBody,
    ok: [201, "User and tokens"],
  },
  {
    method: "post",
    path: "/api/auth/login",
    summary: "Sign in",
    tag: "auth",
    auth: false,
    body: loginBody,
    ok: [200, "User and tokens"],
  },
  {
    method: "post",
    path: "/api/auth/refresh",
    summary: "Rotate a refresh token for new tokens",
    tag: "auth",
    auth: false,
    body: refreshBody,
    ok: [200, "Tokens"],
  },
  {
    method: "post",
    path: "/api/auth/logout",
    summary: "Revoke the session and close its sockets",
    tag: "auth",
    auth: false,
    body: refreshBody,
    ok: [204, "Done"],
  },
  {
    method: "get",
    path: "/api/auth/me",
    summary: "My account and my unread notification count",
    tag: "auth",
    ok: [200, "User"],
  },
  {
    method: "patch",
    path: "/api/auth/me",
    summary: "Change my display name",
    tag: "auth",
    body: updateMeBody,
    ok: [200, "User"],
  },
  {
    method: "post",
    path: "/api/rooms",
    summary: "Create a group room",
    tag: "rooms",
    body: createRoomBody,
    ok: [201, "Room"],
  },
  {
    method: "post",
    path: "/api/rooms/direct",
    summary: "The one direct room with a user",
    tag: "rooms",
    body: directRoomBody,
    ok: [200, "Room (201 when created)"],
  },
  {
    method: "get",
    path: "/api/rooms",
    summary: "My rooms, newest activity first",
    tag: "rooms",
    query: pageQuery,
    ok: [200, "Rooms and next cursor"],
  },
  { method: "get", path: "/api/rooms/{id}", summary: "A room", tag: "rooms", ok: [200, "Room"] },
  {
    method: "patch",
    path: "/api/rooms/{id}",
    summary: "Rename a room, change topic or visibility (admins)",
    tag: "rooms",
    body: updateRoomBody,
    ok: [200, "Room"],
  },
  { method: "post", path: "/api/rooms/{id}/join", summary: "Join a public room", tag: "rooms", ok: [201, "Room"] },
  { method: "post", path: "/api/rooms/{id}/leave", summary: "Leave a room", tag: "rooms", ok: [204, "Done"] },
  {
    method: "get",
    path: "/api/rooms/{id}/members",
    summary: "Members and roles",
    tag: "members",
    ok: [200, "Members"],
  },
  {
    method: "post",
    path: "/api/rooms/{id}/members",
    summary: "Invite a member",
    tag: "members",
    body: inviteBody,
    ok: [201, "Member"],
  },
  {
    method: "delete",
    path: "/api/rooms/{id}/members/{userId}",
    summary: "Remove a member",
    tag: "members",
    ok: [204, "Done"],
  },
  {
    method: "get",
    path: "/api/rooms/{id}/messages",
    summary: "History, keyset pages on seq",
    tag: "messages",
    query: historyQuery,
    ok: [200, "Messages and cursor"],
  },
  {
    method: "post",
    path: "/api/rooms/{id}/messages",
    summary: "Send a message (idempotent on clientMsgId)",
    tag: "messages",
    body: sendMessage,
    ok: [201, "Message (200 for a resend)"],
  },
  {
    method: "post",
    path: "/api/rooms/{id}/read",
    summary: "Move my read mark",
    tag: "messages",
    body: readBody,
    ok: [204, "Done"],
  },
  { method: "get", path: "/api/rooms/{id}/pins", summary: "Pinned messages", tag: "messages", ok: [200, "Pins"] },
  {
    method: "post",
    path: "/api/rooms/{id}/ws-ticket",
    summary: "A single-use WebSocket ticket",
    tag: "realtime",
    ok: [200, "Ticket"],
  },
  {
    method: "get",
    path: "/api/rooms/{id}/ws",
    summary: "WebSocket upgrade (?ticket= or Bearer)",
    tag: "realtime",
    ok: [101, "Switching protocols"],
  },
  {
    method: "patch",
    path: "/api/messages/{roomId}/{seq}",
    summary: "Edit my message",
    tag: "messages",
    body: editMessage.pick({ body: true }),
    ok: [200, "Edited"],
  },
  {
    method: "delete",
    path: "/api/messages/{roomId}/{seq}",
    summary: "Delete a message (tombstone)",
    tag: "messages",
    ok: [204, "Done"],
  },
  {
    method: "get",
    path: "/api/messages/{roomId}/{seq}/thread",
    summary: "A message and its replies",
    tag: "messages",
    query: threadQuery,
    ok: [200, "Thread"],
  },
  {
    method: "post",
    path: "/api/messages/{roomId}/{seq}/reactions",
    summary: "React",
    tag: "messages",
    body: reactionBody,
    ok: [204, "Done"],
  },
  {
    method: "delete",
    path: "/api/messages/{roomId}/{seq}/reactions/{emoji}",
    summary: "Remove my reaction",
    tag: "messages",
    ok: [204, "Done"],
  },
  { method: "post", path: "/api/messages/{roomId}/{seq}/pin", summary: "Pin", tag: "messages", ok: [204, "Done"] },
  { method: "delete", path: "/api/messages/{roomId}/{seq}/pin", summary: "Unpin", tag: "messages", ok: [204, "Done"] },
  {
    method: "get",
    path: "/api/search",
    summary: "Full-text search over my rooms",
    tag: "search",
    query: searchQuery,
    ok: [200, "Results"],
  },
  {
    method: "get",
    path: "/api/users",
    summary: "Find people by display-name prefix or exact email (ids and names only)",
    tag: "search",
    query: userSearchQuery,
    ok: [200, "Users"],
  },
  {
    method: "post",
    path: "/api/rooms/{id}/attachments",
    summary: "Announce a file (name, type, size); answers the id and the URL to PUT the bytes to",
    tag: "attachments",
    body: createAttachmentBody,
    ok: [201, "Attachment and upload URL"],
  },
  {
    method: "put",
    path: "/api/attachments/{id}/content",
    summary: "Upload the bytes (raw body with the announced Content-Type), streamed into R2",
    tag: "attachments",
    ok: [200, "Attachment with its sha256"],
  },
  {
    method: "get",
    path: "/api/attachments/{id}",
    summary: "Download (members of the room only), with Range and ETag",
    tag: "attachments",
    ok: [200, "The file (206 for a range)"],
  },
  {
    method: "get",
    path: "/api/notifications",
    summary: "My in-app notifications, newest first (digests still open included)",
    tag: "notifications",
    query: notificationsQuery,
    ok: [200, "Notifications, unread count, next cursor"],
  },
  {
    method: "post",
    path: "/api/notifications/read",
    summary: "Mark notifications read: some ids, or all",
    tag: "notifications",
    body: markReadBody,
    ok: [200, "How many changed, unread count"],
  },
  {
    method: "get",
    path: "/api/me/notification-settings",
    summary: "My channels, personal webhook and muted rooms",
    tag: "notifications",
    ok: [200, "Settings"],
  },
  {
    method: "patch",
    path: "/api/me/notification-settings",
    summary: "Turn channels on or off, set my webhook, mute rooms until a time",
    tag: "notifications",
    body: settingsPatch,
    ok: [200, "Settings"],
  },
  {
    method: "get",
    path: "/api/push/vapid-public-key",
    summary: "The VAPID key to subscribe with (applicationServerKey)",
    tag: "notifications",
    auth: false,
    ok: [200, "Public key"],
  },
  {
    method: "post",
    path: "/api/push/subscriptions",
    summary: "Register this browser's Web Push subscription",
    tag: "notifications",
    body: pushSubscriptionBody,
    ok: [201, "Subscription id"],
  },
  {
    method: "delete",
    path: "/api/push/subscriptions/{id}",
    summary: "Remove a push subscription",
    tag: "notifications",
    ok: [204, "Removed"],
  },
];

function schemaOf(s: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return json;
}

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "requestId"],
      properties: {
        code: { type: "string", enum: [...ERROR_CODES] },
        message: { type: "string" },
        details: {},
        requestId: { type: "string" },
      },
    },
  },
};

/** Served only to admins (/api/admin/openapi.json); the public document does not reveal these. */
export const ADMIN_ROUTES: RouteDoc[] = [
  { method: "get", path: "/api/admin/openapi.json", summary: "This document", tag: "admin", ok: [200, "OpenAPI"] },
  {
    method: "get",
    path: "/api/admin/stats",
    summary: "Users, rooms, messages per hour (24 h), live sockets in recently active rooms",
    tag: "admin",
    ok: [200, "Figures"],
  },
  {
    method: "get",
    path: "/api/admin/rooms/{id}",
    summary: "A room: live sockets, last seq, outbox depth and oldest age, Redis buffer, throttle hits",
    tag: "admin",
    ok: [200, "Room figures"],
  },
  { method: "delete", path: "/api/admin/rooms/{id}", summary: "Delete a room", tag: "admin", ok: [204, "Deleted"] },
  {
    method: "get",
    path: "/api/admin/users",
    summary: "Find a user by email",
    tag: "admin",
    query: userLookupQuery,
    ok: [200, "User and rooms"],
  },
  { method: "get", path: "/api/admin/users/{id}", summary: "A user and their rooms", tag: "admin", ok: [200, "User"] },
  {
    method: "post",
    path: "/api/admin/users/{id}/ban",
    summary: "Ban: refuse login and tokens, close sockets",
    tag: "admin",
    body: banBody,
    ok: [200, "User"],
  },
  { method: "delete", path: "/api/admin/users/{id}/ban", summary: "Lift a ban", tag: "admin", ok: [200, "User"] },
  {
    method: "get",
    path: "/api/admin/dead-letters",
    summary: "Jobs that will not run again, newest first, and how many are retrying",
    tag: "admin",
    query: deadLettersQuery,
    ok: [200, "Dead letters"],
  },
];

const cached = new Map<RouteDoc[], Record<string, unknown>>();

export function openApiDocument(routes: RouteDoc[] = ROUTES): Record<string, unknown> {
  const hit = cached.get(routes);
  if (hit) return hit;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters = [
      ...idParams(r.path).map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
      ...(r.query
        ? Object.entries((schemaOf(r.query).properties ?? {}) as Record<string, unknown>).map(([name, schema]) => ({
            name,
            in: "query",
            required: ((schemaOf(r.query as z.ZodType).required as string[] | undefined) ?? []).includes(name),
            schema,
          }))
        : []),
    ];
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.auth === false ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(r.body) } } } }
        : {}),
      responses: {
        [String(r.ok[0])]: { description: r.ok[1] },
        default: {
          description: "Error",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
    };
  }
  const doc = {
    openapi: "3.1.0",
    info: {
      title: "edgechat",
      version: "0.1.0",
      description: "Real-time chat on Cloudflare Workers and Durable Objects. WebSocket frames: see the README.",
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
  cached.set(routes, doc);
  return doc;
}
