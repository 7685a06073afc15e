import type { Context } from "hono";
import type { z } from "zod";
import { AppError } from "../protocol/errors";

/** JSON bodies above this are refused before parsing. */
export const MAX_JSON_BYTES = 64 * 1024;

export interface FieldError {
  field: string;
  message: string;
}

/**
 * Text Postgres cannot store (NUL: SQLSTATE 22021) or that is not Unicode at all (a lone UTF-16
 * surrogate, which JSON escapes such as "\ud800" can carry).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const INVALID_TEXT_MESSAGE = "contains a NUL character or invalid Unicode";

export function isInvalidText(text: string): boolean {
  return text.includes("\u0000") || LONE_SURROGATE.test(text);
}

/** The path of the first string (value or key) in a parsed JSON value that is invalid text, or null. */
export function invalidTextAt(value: unknown, path: string[] = []): string | null {
  if (typeof value === "string") return isInvalidText(value) ? path.join(".") || "body" : null;
  if (value === null || typeof value !== "object") return null;
  for (const [key, item] of Object.entries(value)) {
    if (isInvalidText(key)) return [...path, key].join(".");
    const found = invalidTextAt(item, [...path, key]);
    if (found !== null) return found;
  }
  return null;
}

export function invalidText(field: string, where = "Some fields are invalid"): AppError {
  return new AppError(400, "validation_failed", where, { details: [{ field, message: INVALID_TEXT_MESSAGE }] });
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({
    field: i.path.map(String).join(".") || (i.code === "unrecognized_keys" ? i.keys.join(",") : "body"),
    message: i.message,
  }));
}

/** Reads and validates a JSON body: 415 if not JSON, 413 if too large, 400 with per-field details if invalid. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new AppError(415, "unsupported_media_type", "Send the body as application/json");
  }
  const declared = Number(c.req.header("content-length") ?? 0);
  if (declared > MAX_JSON_BYTES) throw new AppError(413, "payload_too_large", `Body over ${MAX_JSON_BYTES} bytes`);
  const text = await c.req.text();
  if (new TextEncoder().encode(text).length > MAX_JSON_BYTES) {
    throw new AppError(413, "payload_too_large", `Body over ${MAX_JSON_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError(400, "bad_request", "Body is not valid JSON");
  }
  // Before the schema, so no route's schema has to remember it.
  const bad = invalidTextAt(json);
  if (bad !== null) throw invalidText(bad);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new AppError(400, "validation_failed", "Some fields are invalid", { details: fieldErrors(parsed.error) });
  }
  return parsed.data;
}

/** Validates the query string; unknown parameters are refused like unknown body fields. */
export function queryParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) {
    throw new AppError(400, "validation_failed", "Some query parameters are invalid", {
      details: fieldErrors(parsed.error),
    });
  }
  return parsed.data;
}
