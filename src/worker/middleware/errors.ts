import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { describeCauses, isInvalidText, isUnavailable } from "../../db/errors";
import { positiveSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import { AppError, type ErrorCode } from "../../protocol/errors";
import { discardBody } from "../attachments/discard";
import type { AppEnv } from "../types";

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable",
  426: "upgrade_required",
  429: "throttled",
  503: "unavailable",
};

/**
 * Every error leaves as one JSON shape; unexpected ones are logged with their stack and never shown. A
 * refused request's unread body is read to the end first (bounded), whoever refused it (auth, a path
 * parameter, validation, the handler): see discard.ts for why an unread or cancelled body hurt.
 */
export async function onError(err: Error, c: Context<AppEnv>): Promise<Response> {
  if (c.req.raw.body && !c.req.raw.bodyUsed) {
    await discardBody(c.req.raw.body, positiveSetting(c.env, "ATTACHMENT_MAX_BYTES"));
  }
  return errorAnswer(err, c);
}

function errorAnswer(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId");
  if (err instanceof AppError) {
    return errorResponse(c, err.status, err.code, err.message, err.details, err.headers);
  }
  if (err instanceof HTTPException) {
    const code = CODE_BY_STATUS[err.status] ?? "internal";
    const headers = Object.fromEntries(err.getResponse().headers);
    return errorResponse(c, err.status, code, err.message || code, undefined, headers);
  }
  if (isInvalidText(err)) {
    // The validation layer refuses such text first; this catches an input it has not seen (a header,
    // say), as the client's fault, not ours.
    logJson("warn", { msg: "database refused invalid text", requestId, error: describeCauses(err) });
    return errorResponse(c, 400, "validation_failed", "Some input contains a NUL character or invalid Unicode");
  }
  if (isUnavailable(err)) {
    // Postgres unreachable or overloaded: the client may retry, and the log names the driver's cause.
    logJson("warn", { msg: "database unavailable", requestId, error: describeCauses(err) });
    return errorResponse(c, 503, "unavailable", "The database is unavailable; retry shortly", undefined, {
      "Retry-After": "1",
    });
  }
  logJson("error", { msg: "unhandled error", requestId, error: describeCauses(err), stack: err.stack });
  return errorResponse(c, 500, "internal", "Internal server error");
}

export function errorResponse(
  c: Context<AppEnv>,
  status: number,
  code: ErrorCode,
  message: string,
  details?: unknown,
  headers: Record<string, string> = {},
): Response {
  const body = {
    error: { code, message, ...(details === undefined ? {} : { details }), requestId: c.get("requestId") },
  };
  // Through c.json so headers set earlier in the request (RateLimit-*, for one) stay on the error reply.
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return c.json(body, status as ContentfulStatusCode);
}
