/** Integrations (issue 27): phones registered for native push (FCM, APNs). */
import { z } from "zod";
import { id, timestamp } from "./responses/common";

export const registerDeviceBody = z.discriminatedUnion("platform", [
  z.strictObject({
    platform: z.literal("fcm"),
    /** The FCM registration token from the app (getToken()). */
    token: z.string().regex(/^[A-Za-z0-9_:.-]{20,4096}$/, "an FCM registration token"),
  }),
  z.strictObject({
    platform: z.literal("apns"),
    /** The APNs device token, hex (32 bytes today; Apple says not to assume the length). */
    token: z.string().regex(/^[0-9a-fA-F]{64,200}$/, "an APNs device token in hex"),
    /** Development builds get sandbox tokens, which only Apple's sandbox host accepts. */
    apnsEnvironment: z.enum(["production", "sandbox"]).default("production"),
  }),
]);

export const deviceView = z.object({
  id,
  platform: z.enum(["fcm", "apns"]),
  /** The token's last characters, to tell devices apart; the token itself is never shown again. */
  tokenSuffix: z.string(),
  apnsEnvironment: z.enum(["production", "sandbox"]).nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const deviceReply = z.object({ device: deviceView });
export const deviceList = z.object({ devices: z.array(deviceView) });
