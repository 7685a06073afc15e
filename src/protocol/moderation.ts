/** Request bodies of room moderation and blocks, shared by REST routes, the OpenAPI document and clients. */
import { z } from "zod";

/** Ten years: longer than that is "until lifted" (omit the duration). */
const MAX_SANCTION_SECONDS = 10 * 365 * 24 * 3600;

/** A ban or a mute: for `durationSeconds`, or until lifted when it is absent. */
export const sanctionBody = z.strictObject({
  durationSeconds: z.number().int().min(1).max(MAX_SANCTION_SECONDS).optional(),
  reason: z.string().trim().max(500, "at most 500 characters").optional(),
});

/** Slow mode: at most a day between one member's messages. */
export const slowModeSeconds = z.number().int().min(0).max(86_400);
