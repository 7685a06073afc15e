/**
 * From a raw message on an inbox socket to a validated frame, or the `error` frame that answers it (the
 * socket stays open), or a close for a frame too large. Pure, like the room's frame-parse.
 */
import type { ErrorCode } from "../../protocol/errors";
import {
  INBOX_CLIENT_FRAME_TYPES,
  type InboxClientFrame,
  type InboxFrame,
  inboxClientFrame,
} from "../../protocol/inbox";

/** Devices send tiny frames; anything near this is not one of them. */
export const MAX_INBOX_FRAME_BYTES = 16 * 1024;

type ErrorFrame = Extract<InboxFrame, { type: "error" }>;

export type ParsedInboxFrame =
  | { kind: "frame"; frame: InboxClientFrame }
  | { kind: "refused"; reply: ErrorFrame }
  | { kind: "close"; code: number; reason: string };

export function parseInboxFrame(message: string | ArrayBuffer): ParsedInboxFrame {
  if (typeof message !== "string") {
    return refused("bad_frame", "binary frames are not supported; send JSON text");
  }
  if (message.length > MAX_INBOX_FRAME_BYTES || new TextEncoder().encode(message).length > MAX_INBOX_FRAME_BYTES) {
    return { kind: "close", code: 1009, reason: "frame too large" };
  }
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return refused("bad_frame", "frame is not valid JSON");
  }
  const parsed = inboxClientFrame.safeParse(json);
  if (parsed.success) return { kind: "frame", frame: parsed.data };
  // Arbitrary JSON: read its type by type only (never call a toString it may carry).
  const type =
    typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>).type : json;
  if (typeof type === "string" && INBOX_CLIENT_FRAME_TYPES.has(type)) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "frame"}: ${i.message}`);
    return refused("bad_frame", issues.join("; "), type);
  }
  const shown =
    typeof type === "string" ? JSON.stringify(type.slice(0, 64)) : `(${type === null ? "null" : typeof type})`;
  return refused("unknown_frame_type", `unknown frame type: ${shown}; an inbox takes ping, auth.refresh and stats`);
}

function refused(code: ErrorCode, message: string, ref?: string): ParsedInboxFrame {
  return { kind: "refused", reply: { type: "error", code, message, ...(ref ? { ref } : {}) } };
}
