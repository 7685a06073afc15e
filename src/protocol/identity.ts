/**
 * Headers by which the worker tells a room who is connecting. Only the worker sets them (after
 * authentication, and the membership check when the room could not answer it); it deletes any a client sent.
 */
export const IDENTITY_HEADERS = {
  roomId: "x-edgechat-room-id",
  userId: "x-edgechat-user-id",
  role: "x-edgechat-role",
  tokenExpiresAt: "x-edgechat-token-exp",
  /** Set when the socket was opened with a single-use ticket: the room records it so it works once. */
  ticketId: "x-edgechat-ticket-id",
  ticketExpiresAt: "x-edgechat-ticket-exp",
  requestId: "x-request-id",
  /**
   * Issue 24: without a role, the room decides membership itself (member-cache.ts) or answers 409 with
   * this header; the worker then asks Postgres and sends the role with the epoch it was given.
   */
  membershipEpoch: "x-edgechat-membership-epoch",
} as const;

export type Role = "owner" | "admin" | "member";

/** Who performs an action, as the worker vouches for it (WebSocket upgrade or REST call). */
export interface Actor {
  roomId: string;
  userId: string;
  role: Role;
  requestId?: string;
}
