/**
 * The one list of error codes clients can switch on, shared by REST error bodies
 * (`{ error: { code, message, details?, requestId } }`) and WebSocket `error` frames.
 * Codes are stable: add new ones, never rename.
 */
export const ERROR_CODES = [
  "bad_request",
  "validation_failed",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "upgrade_required",
  "unprocessable",
  "throttled",
  "internal",
  "unavailable",
  "bad_frame",
  "unknown_frame_type",
  "resync_required",
  /** Room moderation: the member is muted (read-only) in this room. */
  "muted",
  /** Room moderation: the user is banned from this room (join and invitations refused). */
  "banned",
  /** A block between the two people stands in the way (direct rooms). */
  "blocked",
  /** A deployment content rule (or the moderation webhook) refused the text. */
  "content_rejected",
  /** The moderation webhook did not answer usably and the deployment fails closed. */
  "moderation_unavailable",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;
  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    extra: { details?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.status = status;
    this.code = code;
    this.details = extra.details;
    this.headers = extra.headers;
  }
}
