/** Admin API bodies and queries (shared with the OpenAPI document and the inspector). */
import { z } from "zod";

export const banBody = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });
export const userLookupQuery = z.strictObject({ email: z.email().max(320) });
export const deadLettersQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
