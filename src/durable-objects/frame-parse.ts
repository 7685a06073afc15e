/**
 * From a raw WebSocket message to a validated client frame, and from a command's result to the frame
 * that answers it. Pure functions: the room object only wires them to sockets (and plain Node tests run
 * them against any input).
 */
import type { ErrorCode } from "../protocol/errors";
import { CLIENT_FRAME_TYPES, type ClientFrame, clientFrame, type ServerFrame } from "../protocol/frames";
import type { CommandResult, RoomCommand } from "../protocol/room-rpc";

/** Frames above this close the socket with 1009 (message too big). */
export const MAX_FRAME_BYTES = 64 * 1024;

export type ParsedFrame =
  | { kind: "frame"; frame: ClientFrame }
  | { kind: "refused"; reply: Extract<ServerFrame, { type: "error" }> }
  | { kind: "close"; code: number; reason: string };

export function parseFrame(message: string | ArrayBuffer): ParsedFrame {
  if (typeof message !== "string") {
    return refused("bad_frame", "binary frames are not supported; send JSON text");
  }
  // Length in UTF-16 units bounds the UTF-8 size from below; only frames that might be too big are encoded.
  if (
    message.length > MAX_FRAME_BYTES ||
    (message.length * 3 > MAX_FRAME_BYTES && utf8Length(message) > MAX_FRAME_BYTES)
  ) {
    return { kind: "close", code: 1009, reason: "frame too large" };
  }
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return refused("bad_frame", "frame is not valid JSON");
  }
  const parsed = clientFrame.safeParse(json);
  if (parsed.success) return { kind: "frame", frame: parsed.data };
  return { kind: "refused", reply: frameError(json, parsed.error.issues) };
}

/**
 * The error for a frame the schema refused. The frame is arbitrary JSON: read its fields by type only
 * (an object's own toString may be anything, `{"type":{"toString":1}}` once threw here).
 */
export function frameError(
  json: unknown,
  issues: { path: PropertyKey[]; message: string }[],
): Extract<ServerFrame, { type: "error" }> {
  const fields =
    typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  const type = fields.type;
  const known = typeof type === "string" && CLIENT_FRAME_TYPES.has(type);
  const ref = typeof fields.clientMsgId === "string" ? fields.clientMsgId.slice(0, 64) : undefined;
  const shown =
    typeof type === "string" ? JSON.stringify(type.slice(0, 64)) : `(${type === null ? "null" : typeof type})`;
  return {
    type: "error",
    code: known ? "bad_frame" : "unknown_frame_type",
    message: known
      ? issues
          .map(
            (i) => `${i.path.map((p) => (typeof p === "symbol" ? "?" : String(p))).join(".") || "frame"}: ${i.message}`,
          )
          .join("; ")
      : `unknown frame type: ${shown}`,
    ...(ref ? { ref } : {}),
  };
}

/** How a client names a command in error frames: its clientMsgId for sends, `verb:seq` for the rest. */
export function commandRef(command: RoomCommand): string {
  switch (command.type) {
    case "send":
    case "notice":
      return command.clientMsgId;
    case "member":
      return `member:${command.userId}`;
    case "room":
      return "room";
    case "purge":
      return `purge:${command.userId}`;
    case "blocks":
      return "blocks";
    case "tombstone":
      return "tombstone";
    case "erase":
      return `erase:${command.userId}`;
    default:
      return `${command.type}:${command.seq}`;
  }
}

/** The frame that answers a command on the socket that sent it (others learn of it by broadcast). */
export function replyFor(command: RoomCommand, result: CommandResult): ServerFrame | null {
  const ref = commandRef(command);
  switch (result.status) {
    case "accepted":
      return { type: "ack", clientMsgId: ref, seq: result.message.seq };
    case "duplicate":
      return { type: "ack", clientMsgId: ref, seq: result.seq, duplicate: true };
    case "throttled":
      return {
        type: "throttled",
        retryAfterMs: result.retryAfterMs,
        clientMsgId: ref,
        ...(result.reason === "slow_mode" ? { reason: "slow_mode" as const } : {}),
      };
    case "rejected":
      return { type: "error", code: result.code, message: result.message, ref };
    case "ok":
      return null;
  }
}

export function internalError(ref: string, incident: string): Extract<ServerFrame, { type: "error" }> {
  return {
    type: "error",
    code: "internal" satisfies ErrorCode,
    message: `the room could not handle this frame (incident ${incident}); nothing was changed`,
    ref,
  };
}

function refused(code: ErrorCode, message: string): ParsedFrame {
  return { kind: "refused", reply: { type: "error", code, message } };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
