/**
 * Headers by which the worker tells a room who is connecting. Only the worker sets them (after
 * authentication and the membership check); it deletes any a client sent.
 */
export const IDENTITY_HEADERS = {
  roomId: "x-edgechat-room-id",
  userId: "x-edgechat-user-id",
  tokenExpiresAt: "x-edgechat-token-exp",
  requestId: "x-request-id",
} as const;
