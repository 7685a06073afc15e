import { Hono } from "hono";
import { z } from "zod";
import { UUID } from "../../db/membership";
import { AppError } from "../../protocol/errors";
import { IDENTITY_HEADERS } from "../../protocol/identity";
import { wsTicketReply } from "../../protocol/responses/rooms";
import { signTicket, TICKET_TTL_SECONDS } from "../auth/ticket";
import { memberRole, roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import { checkOrigin, identityHeaders, upgradeIdentity } from "../socket-upgrade";
import type { AppEnv } from "../types";

export const roomSocket = new Hono<AppEnv>();

/** A single-use, 30-second ticket for opening this room's WebSocket from a browser (`?ticket=`). */
const wsTicket = defineRoute({
  method: "post",
  path: "/api/rooms/:id/ws-ticket",
  summary: "A single-use WebSocket ticket",
  tag: "realtime",
  responses: { 200: { description: "The ticket, valid for expiresIn seconds", schema: wsTicketReply } },
});
handle(roomSocket, wsTicket, async (c, { params }) => {
  const userId = c.get("userId");
  const roomId = (params.id ?? "").toLowerCase();
  if (!UUID.test(roomId)) throw new AppError(404, "not_found", "Room not found");
  // Issue 24: the room vouches for the members it knows (as at the upgrade); Postgres for anyone else.
  const vouched = await roomStub(c.env, roomId)
    .vouchedMember(userId)
    .catch(() => null);
  if (!vouched && !(await memberRole(c.env, roomId, userId))) throw new AppError(404, "not_found", "Room not found");
  const ticket = await signTicket(c.env, {
    userId,
    roomId,
    sessionId: c.get("sessionId") as string,
    accessExpiresAt: c.get("tokenExpiresAt"),
  });
  c.header("cache-control", "no-store");
  return c.json({ ticket, expiresIn: TICKET_TTL_SECONDS });
});

/**
 * The upgrade is authenticated and authorised here, then handed to the room object as is, so the object
 * accepts the socket itself with the Hibernation API. The room trusts identity only from these headers,
 * which are stripped from the client's request first.
 */
const upgrade = defineRoute({
  method: "get",
  path: "/api/rooms/:id/ws",
  summary: "WebSocket upgrade (?ticket= or Bearer; ?since=<version> for protocol 2 catch-up; ?batch=1)",
  tag: "realtime",
  auth: "own",
  // Not strict: the upgrade refuses nothing for an unknown parameter.
  query: z.object({
    ticket: z.string().optional(),
    since: z
      .string()
      .regex(/^\d{1,15}$/, "a whole number: the room version the client has")
      .optional()
      .meta({ description: "Protocol 2: the change-log version the client has; it gets every change after it" }),
    batch: z.string().optional().meta({
      description:
        "1: this client unpacks `batch {frames}` (a busy room gathers broadcasts per short window); protocol 2 only",
    }),
  }),
  middleware: [checkOrigin],
  responses: { 101: { description: "Switching protocols; frames as in src/protocol/frames.ts" } },
});
handle(roomSocket, upgrade, async (c, { params, query }) => {
  const roomId = (params.id ?? "").toLowerCase();
  const id = await upgradeIdentity(c, query.ticket, roomId);
  const headers = identityHeaders(c, id);
  headers.set(IDENTITY_HEADERS.roomId, roomId);
  // The ticket stays out of the URL the room sees (and of anything it might log).
  const url = new URL(c.req.url);
  const forwarded = new URLSearchParams();
  if (query.since !== undefined) forwarded.set("since", query.since);
  if (query.batch === "1") forwarded.set("batch", "1");
  url.search = forwarded.size > 0 ? `?${forwarded}` : "";
  // Only a room id can name a room: anything else is refused before any object is woken for it.
  if (!UUID.test(roomId)) throw new AppError(404, "not_found", "Room not found");
  const room = roomStub(c.env, roomId);
  const toRoom = (membership?: { role: string; epoch: string }) => {
    const h = new Headers(headers);
    if (membership) {
      h.set(IDENTITY_HEADERS.role, membership.role);
      h.set(IDENTITY_HEADERS.membershipEpoch, membership.epoch);
    }
    return room.fetch(new Request(url, { method: "GET", headers: h }));
  };
  // Issue 24: the room vouches for its members itself (member-cache.ts), so an upgrade in steady state
  // makes no Postgres query. When it cannot (a member it has not seen, or one whose membership is being
  // changed), it says which epoch to quote, and Postgres decides, as before.
  let res = await toRoom();
  for (let attempt = 0; isMembershipUnknown(res); attempt++) {
    if (attempt === 3) throw new AppError(503, "unavailable", "Membership is changing; retry shortly");
    const epoch = res.headers.get(IDENTITY_HEADERS.membershipEpoch) as string;
    await res.body?.cancel();
    const role = await memberRole(c.env, roomId, id.userId);
    if (!role) throw new AppError(404, "not_found", "Room not found");
    res = await toRoom({ role, epoch });
  }
  return res;
});

function isMembershipUnknown(res: Response): boolean {
  return res.status === 409 && res.headers.has(IDENTITY_HEADERS.membershipEpoch);
}
