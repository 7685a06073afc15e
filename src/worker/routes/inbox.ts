/**
 * The inbox socket (issue 25): `GET /api/me/ws`, one per device, and its browser ticket. The same rules as
 * a room's socket: a single-use ticket or a Bearer token of a live session, browser Origins from
 * ALLOWED_ORIGINS, 426 without an upgrade; the upgrade then goes to the user's inbox object as is, with the
 * identity the worker vouches for (whatever identity headers the client sent are dropped).
 */
import { Hono } from "hono";
import { z } from "zod";
import { wsTicketReply } from "../../protocol/responses/rooms";
import { signTicket, TICKET_TTL_SECONDS } from "../auth/ticket";
import { inboxStub } from "../inbox";
import { defineRoute, handle } from "../route";
import { checkOrigin, identityHeaders, upgradeIdentity } from "../socket-upgrade";
import type { AppEnv } from "../types";

export const inboxRoutes = new Hono<AppEnv>();

/** What inbox tickets are bound to instead of a room id (never a UUID, so never a room's ticket). */
export const INBOX_TICKET_SCOPE = "inbox";

const inboxTicket = defineRoute({
  method: "post",
  path: "/api/me/ws-ticket",
  summary: "A single-use ticket for my inbox socket",
  tag: "realtime",
  responses: { 200: { description: "The ticket, valid for expiresIn seconds", schema: wsTicketReply } },
});
handle(inboxRoutes, inboxTicket, async (c) => {
  const ticket = await signTicket(c.env, {
    userId: c.get("userId"),
    roomId: INBOX_TICKET_SCOPE,
    sessionId: c.get("sessionId") as string,
    accessExpiresAt: c.get("tokenExpiresAt"),
  });
  c.header("cache-control", "no-store");
  return c.json({ ticket, expiresIn: TICKET_TTL_SECONDS });
});

const inboxSocket = defineRoute({
  method: "get",
  path: "/api/me/ws",
  summary: "My inbox: WebSocket upgrade (?ticket= or Bearer; ?epoch=&since= to catch up)",
  tag: "realtime",
  auth: "own",
  // Not strict: the upgrade refuses nothing for an unknown parameter.
  query: z.object({
    ticket: z.string().optional(),
    epoch: z
      .string()
      .regex(/^[0-9a-f-]{36}$/, "the epoch of the inbox's last snapshot")
      .optional()
      .meta({ description: "With since: the epoch the device's state is from" }),
    since: z
      .string()
      .regex(/^\d{1,15}$/, "a whole number: the last delta the device applied")
      .optional()
      .meta({ description: "With epoch: the device gets the deltas after this one (or a snapshot)" }),
  }),
  middleware: [checkOrigin],
  responses: { 101: { description: "Switching protocols; frames as in src/protocol/inbox.ts" } },
});
handle(inboxRoutes, inboxSocket, async (c, { query }) => {
  const id = await upgradeIdentity(c, query.ticket, INBOX_TICKET_SCOPE);
  const headers = identityHeaders(c, id);
  // The ticket stays out of the URL the inbox sees (and of anything it might log).
  const url = new URL(c.req.url);
  url.search =
    query.epoch !== undefined && query.since !== undefined ? `?epoch=${query.epoch}&since=${query.since}` : "";
  return inboxStub(c.env, id.userId).fetch(new Request(url, { method: "GET", headers }));
});
