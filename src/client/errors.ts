import type { ErrorCode } from "../protocol/errors";

/** Every failed call: the HTTP status and the server's stable `code` (or `network` when no answer came). */
export class EdgechatError extends Error {
  readonly status: number;
  readonly code: ErrorCode | "network";
  readonly details?: unknown;
  readonly requestId?: string;
  constructor(status: number, code: ErrorCode | "network", message: string, details?: unknown, requestId?: string) {
    super(message);
    this.name = "EdgechatError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}
