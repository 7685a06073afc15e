/** Answers of /api/auth/*. */
import { z } from "zod";
import { id, timestamp, userKind } from "./common";

export const user = z.object({ id, email: z.email(), displayName: z.string(), kind: userKind, createdAt: timestamp });

export const tokens = z.object({
  tokenType: z.literal("Bearer"),
  accessToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
  refreshToken: z.string(),
});

export const signedIn = z.object({ user, ...tokens.shape });
export const userReply = z.object({ user });
export const meReply = z.object({ user, unreadNotifications: z.number().int() });
