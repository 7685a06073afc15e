/**
 * WebSocket tickets for browsers, which cannot set headers on an upgrade: a 30-second JWT bound to one
 * user and one room, passed as `?ticket=`. The room records its id, so each ticket opens one socket.
 */
import { type JwtEnv, signJwt, verifyJwt } from "../../lib/jwt";

export const TICKET_TTL_SECONDS = 30;
const TICKET_TYP = "ws-ticket";
const TICKET_AUDIENCE = "edgechat-ws";

export interface TicketClaims {
  userId: string;
  roomId: string;
  /** The session of the access token the ticket was minted with; the upgrade checks it is still live. */
  sessionId: string;
  ticketId: string;
  ticketExpiresAt: number;
  /** Expiry of the access token the ticket was minted with: the socket's session ends then too. */
  accessExpiresAt: number;
}

export function signTicket(
  env: JwtEnv,
  t: { userId: string; roomId: string; sessionId: string; accessExpiresAt: number },
): Promise<string> {
  return signJwt(
    env,
    { typ: TICKET_TYP, room: t.roomId, sid: t.sessionId, ate: t.accessExpiresAt, jti: crypto.randomUUID() },
    { subject: t.userId, audience: TICKET_AUDIENCE, ttlSeconds: TICKET_TTL_SECONDS },
  );
}

export async function verifyTicket(env: JwtEnv, ticket: string, roomId: string): Promise<TicketClaims> {
  const p = await verifyJwt<{ room?: string; sid?: string; ate?: number }>(env, ticket, TICKET_AUDIENCE, TICKET_TYP);
  if (p.room !== roomId || typeof p.jti !== "string" || typeof p.ate !== "number" || typeof p.sid !== "string")
    throw new TypeError("ticket is not for this room");
  return {
    userId: p.sub as string,
    roomId,
    sessionId: p.sid,
    ticketId: p.jti,
    ticketExpiresAt: p.exp as number,
    accessExpiresAt: p.ate,
  };
}
