/** Account request bodies, shared by the REST routes, the OpenAPI document and clients. Unknown fields are refused. */
import { z } from "zod";

/** Longer inputs are refused before any hashing work, so a huge password cannot be used to burn CPU. */
export const MAX_PASSWORD_CHARS = 256;
export const MIN_PASSWORD_CHARS = 8;

const email = z.string().trim().max(254).pipe(z.email("must be a valid email address"));
const displayName = z.string().trim().min(1, "must not be empty").max(64, "at most 64 characters");
const password = z
  .string()
  .min(MIN_PASSWORD_CHARS, `at least ${MIN_PASSWORD_CHARS} characters`)
  .max(MAX_PASSWORD_CHARS, `at most ${MAX_PASSWORD_CHARS} characters`);

export const registerBody = z.strictObject({ email, displayName, password });
export const loginBody = z.strictObject({ email, password: z.string().min(1).max(MAX_PASSWORD_CHARS) });
export const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(200) });
export const updateMeBody = z.strictObject({ displayName });
