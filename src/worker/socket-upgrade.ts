/**
 * What every WebSocket upgrade the worker forwards to an object (a room's, the inbox's) does first: a
 * browser Origin from ALLOWED_ORIGINS, a credential (a single-use ticket bound to `ticketScope`, or a
 * Bearer token of a live session), 426 without an upgrade, and the identity headers the object trusts
 * (whatever identity headers the client sent are dropped, and so is its Authorization).
 */
import type { Context } from "hono";
import { sessionState } from "../db/sessions";
import { AppError } from "../protocol/errors";
import { IDENTITY_HEADERS } from "../protocol/identity";
import { type TicketClaims, verifyTicket } from "./auth/ticket";
import { apiKeyState, KEY_SESSION_PREFIX } from "./integrations/keys";
import { authenticate, UNAUTHORIZED_CHALLENGE, unauthenticated } from "./middleware/auth";
import type { AppEnv } from "./types";

export interface UpgradeIdentity {
  userId: string;
  tokenExpiresAt: number;
  ticket: TicketClaims | null;
}

const noCredential = () =>
  new AppError(401, "unauthorized", "A valid access token or ticket is required", {
    headers: UNAUTHORIZED_CHALLENGE,
  });

/** Who is upgrading, by ticket or Bearer token; then 426 unless it is an upgrade. */
export async function upgradeIdentity(
  c: Context<AppEnv>,
  ticketText: string | undefined,
  ticketScope: string,
): Promise<UpgradeIdentity> {
  let identity: UpgradeIdentity;
  if (ticketText) {
    const ticket = await verifyTicket(c.env, ticketText, ticketScope).catch(() => {
      throw noCredential();
    });
    // A ticket outlives nothing: minted just before a logout (or a key's revocation), it opens no socket.
    const state = ticket.sessionId.startsWith(KEY_SESSION_PREFIX)
      ? await apiKeyState(c.env, ticket.sessionId.slice(KEY_SESSION_PREFIX.length), ticket.userId)
      : await sessionState(c.env, ticket.sessionId, ticket.userId);
    if (state !== "live") throw unauthenticated(state === "banned" ? "banned" : "ended");
    identity = { userId: ticket.userId, tokenExpiresAt: ticket.accessExpiresAt, ticket };
  } else {
    const auth = await authenticate(c);
    if (!auth.ok) {
      throw auth.reason === "missing" || auth.reason === "invalid" ? noCredential() : unauthenticated(auth.reason);
    }
    identity = { userId: auth.claims.userId, tokenExpiresAt: auth.claims.expiresAt, ticket: null };
  }
  c.set("userId", identity.userId);
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError(426, "upgrade_required", "Expected a WebSocket upgrade", { headers: { Upgrade: "websocket" } });
  }
  return identity;
}

/** The client's headers with only the identity the worker vouches for. */
export function identityHeaders(c: Context<AppEnv>, id: UpgradeIdentity): Headers {
  const headers = new Headers(c.req.raw.headers);
  for (const name of Object.values(IDENTITY_HEADERS)) headers.delete(name);
  headers.delete("authorization");
  headers.set(IDENTITY_HEADERS.userId, id.userId);
  headers.set(IDENTITY_HEADERS.tokenExpiresAt, String(id.tokenExpiresAt));
  headers.set(IDENTITY_HEADERS.requestId, c.get("requestId"));
  if (id.ticket) {
    headers.set(IDENTITY_HEADERS.ticketId, id.ticket.ticketId);
    headers.set(IDENTITY_HEADERS.ticketExpiresAt, String(id.ticket.ticketExpiresAt));
  }
  return headers;
}

/** Browsers send Origin on upgrades; only listed origins may open sockets. Non-browser clients send none. */
export async function checkOrigin(c: Context<AppEnv>, next: () => Promise<void>) {
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
