/**
 * The inbox socket (issue 25): `GET /api/me/ws`, one per device, and its browser ticket. The same rules as
 * a room's socket: a single-use ticket or a Bearer token of a live session, browser Origins from
 * ALLOWED_ORIGINS, 426 without an upgrade; the upgrade then goes to the user's inbox object as is, with the
 * identity the worker vouches for (whatever identity headers the client sent are dropped).
 */
import { Hono } from "hono";
import { z } from "zod";
import { sessionState } from "../../db/sessions";
import { AppError } from "../../protocol/errors";
import { IDENTITY_HEADERS } from "../../protocol/identity";
import { wsTicketReply } from "../../protocol/responses/rooms";
import { signTicket, TICKET_TTL_SECONDS, type TicketClaims, verifyTicket } from "../auth/ticket";
import { inboxStub } from "../inbox";
import { authenticate, UNAUTHORIZED_CHALLENGE, unauthenticated } from "../middleware/auth";
import { defineRoute, handle } from "../route";
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
  let ticket: TicketClaims | null = null;
  let userId: string;
  let tokenExpiresAt: number;
  if (query.ticket) {
    try {
      ticket = await verifyTicket(c.env, query.ticket, INBOX_TICKET_SCOPE);
    } catch {
      throw new AppError(401, "unauthorized", "A valid access token or ticket is required", {
        headers: UNAUTHORIZED_CHALLENGE,
      });
    }
    // A ticket outlives nothing: minted just before a logout, it opens no socket after it.
    const state = await sessionState(c.env, ticket.sessionId, ticket.userId);
    if (state !== "live") throw unauthenticated(state === "banned" ? "banned" : "ended");
    userId = ticket.userId;
    tokenExpiresAt = ticket.accessExpiresAt;
  } else {
    const auth = await authenticate(c);
    if (!auth.ok) {
      throw auth.reason === "missing" || auth.reason === "invalid"
        ? new AppError(401, "unauthorized", "A valid access token or ticket is required", {
            headers: UNAUTHORIZED_CHALLENGE,
          })
        : unauthenticated(auth.reason);
    }
    userId = auth.claims.userId;
    tokenExpiresAt = auth.claims.expiresAt;
  }
  c.set("userId", userId);
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError(426, "upgrade_required", "Expected a WebSocket upgrade", { headers: { Upgrade: "websocket" } });
  }
  const headers = new Headers(c.req.raw.headers);
  for (const name of Object.values(IDENTITY_HEADERS)) headers.delete(name);
  headers.delete("authorization");
  headers.set(IDENTITY_HEADERS.userId, userId);
  headers.set(IDENTITY_HEADERS.tokenExpiresAt, String(tokenExpiresAt));
  headers.set(IDENTITY_HEADERS.requestId, c.get("requestId"));
  if (ticket) {
    headers.set(IDENTITY_HEADERS.ticketId, ticket.ticketId);
    headers.set(IDENTITY_HEADERS.ticketExpiresAt, String(ticket.ticketExpiresAt));
  }
  // The ticket stays out of the URL the inbox sees (and of anything it might log).
  const url = new URL(c.req.url);
  url.search =
    query.epoch !== undefined && query.since !== undefined ? `?epoch=${query.epoch}&since=${query.since}` : "";
  return inboxStub(c.env, userId).fetch(new Request(url, { method: "GET", headers }));
});

/** Browsers send Origin on upgrades; only listed origins may open sockets (as for room sockets). */
async function checkOrigin(c: import("hono").Context<AppEnv>, next: () => Promise<void>) {
  const origin = c.req.header("origin");
  if (origin) {
    const allowed = (c.env.ALLOWED_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean);
    if (!allowed.includes(origin)) throw new AppError(403, "forbidden", "Origin not allowed");
  }
  await next();
}
