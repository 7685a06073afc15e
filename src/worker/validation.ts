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

/** Deeper JSON than any route accepts is refused before anything walks it (schemas, drivers, our own check). */
export const MAX_JSON_DEPTH = 64;

/**
 * Why a parsed JSON body cannot be taken whatever its schema says: a string (value or key) that is invalid
 * text, or nesting deeper than MAX_JSON_DEPTH; null when neither. Iterative: a body of 20,000 nested
 * arrays once overflowed a recursive walk's stack (a 500 the REST fuzzer found).
 */
export function unreadableJson(value: unknown): { field: string; message: string } | null {
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { path } = next;
    if (typeof next.value === "string") {
      if (isInvalidText(next.value)) return { field: path.join(".") || "body", message: INVALID_TEXT_MESSAGE };
      continue;
    }
    if (next.value === null || typeof next.value !== "object") continue;
    if (path.length >= MAX_JSON_DEPTH) {
      return { field: path.slice(0, 3).join(".") || "body", message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
    }
    const entries = Object.entries(next.value);
    const badKey = entries.find(([key]) => isInvalidText(key));
    if (badKey) return { field: [...path, badKey[0]].join("."), message: INVALID_TEXT_MESSAGE };
    // Pushed in reverse so fields are looked at in document order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i] as [string, unknown];
      stack.push({ value: item, path: [...path, key] });
    }
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
  const bad = unreadableJson(json);
  if (bad !== null) {
    throw new AppError(400, "validation_failed", "Some fields are invalid", { details: [bad] });
  }
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
