/**
 * WebSocket frames (JSON text), validated by one schema module shared by the room object, the REST
 * routes that send through the room, and clients.
 */
import { z } from "zod";
import type { ErrorCode } from "./errors";

/** Exact text the runtime answers without waking a hibernated room (setWebSocketAutoResponse). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

export const MAX_BODY_CHARS = 4000;
export const MAX_CLIENT_MSG_ID_CHARS = 64;

const seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const MAX_ATTACHMENTS = 10;

/** Custom data an app attaches to a message or a room: a JSON object of at most this many bytes. */
export const MAX_CUSTOM_BYTES = 2048;

type JsonLeaf = string | number | boolean | null;
type Json2 = JsonLeaf | JsonLeaf[] | { [key: string]: JsonLeaf | JsonLeaf[] };
/** JSON typed three levels deep (deeper values are still accepted and kept; the type just stops there). */
export type JsonValue = JsonLeaf | Json2[] | { [key: string]: Json2 };
export type CustomData = { [key: string]: JsonValue };

/**
 * A JSON object of at most MAX_CUSTOM_BYTES (UTF-8 of its JSON text), returned wherever its owner is.
 * Typed as JSON by hand: z.json()'s recursive type is too deep for RPC stubs and route inference.
 */
export const customData = z.record(z.string().max(64), z.unknown()).superRefine((value, ctx) => {
  // Depth first, without recursion: a hostile frame nests arrays thousands deep, and JSON.stringify of
  // that overflows the stack (the frame fuzzer found it).
  if (depthOver(value, MAX_CUSTOM_DEPTH)) {
    ctx.addIssue({ code: "custom", message: `nested at most ${MAX_CUSTOM_DEPTH} levels deep` });
    return;
  }
  if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_CUSTOM_BYTES) {
    ctx.addIssue({ code: "custom", message: `at most ${MAX_CUSTOM_BYTES} bytes of JSON` });
  }
}) as unknown as z.ZodType<CustomData>;

const MAX_CUSTOM_DEPTH = 16;

function depthOver(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (value === null || typeof value !== "object") continue;
    if (depth > max) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * The protocol version a room speaks. 1: live frames from the upgrade on, `resume {lastSeq}` replays
 * messages only. 2: every change carries `v`, its number in the room's gapless change log; a client that
 * opens the socket with `?since=<version>` gets exactly the changes after it, then `synced`, then live.
 */
export const PROTOCOL_VERSION = 2;

const body = z.string().max(MAX_BODY_CHARS, `at most ${MAX_BODY_CHARS} characters`);
const nonEmpty = (b: string) => b.trim().length > 0;

const sendFields = {
  clientMsgId: z
    .string()
    .min(1)
    .max(MAX_CLIENT_MSG_ID_CHARS)
    .regex(/^[A-Za-z0-9_\-.:]+$/, "letters, digits and _ - . : only")
    // The room's own system messages are "system:<version>": no sender may take one of those ids.
    .refine((id) => !id.startsWith("system:"), "the system: prefix is reserved"),
  body,
  replyTo: seq.optional(),
  /** Ids from POST /api/rooms/:id/attachments whose bytes were uploaded by the sender. */
  attachments: z.array(z.uuid()).min(1).max(MAX_ATTACHMENTS).optional(),
  custom: customData.optional(),
};

/** A message needs text, or at least one attachment. */
function textOrFiles(m: { body: string; attachments?: string[] }, ctx: z.RefinementCtx): void {
  if (!nonEmpty(m.body) && !m.attachments?.length) {
    ctx.addIssue({ code: "custom", path: ["body"], message: "must not be empty" });
  }
  if (m.attachments && new Set(m.attachments).size !== m.attachments.length) {
    ctx.addIssue({ code: "custom", path: ["attachments"], message: "must not repeat an attachment" });
  }
}

/** What a client sends to post a message; also the REST body of POST /api/rooms/:id/messages. */
export const sendMessage = z.strictObject(sendFields).superRefine(textOrFiles);
export type SendMessage = z.infer<typeof sendMessage>;

export const editMessage = z.strictObject({ seq, body: body.refine(nonEmpty, "must not be empty") });

/** One emoji (or a short :shortcode:), no whitespace. */
export const emoji = z.string().min(1).max(32).regex(/^\S+$/u, "one emoji or :shortcode:, no spaces");

export const clientFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ ...sendFields, type: z.literal("send") }).superRefine(textOrFiles),
  editMessage.extend({ type: z.literal("edit") }),
  z.strictObject({ type: z.literal("delete"), seq }),
  z.strictObject({ type: z.literal("typing"), on: z.boolean() }),
  z.strictObject({ type: z.literal("react"), seq, emoji, on: z.boolean() }),
  z.strictObject({ type: z.literal("read"), seq }),
  z.strictObject({ type: z.literal("resume"), lastSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  /** Protocol 2: the changes after `since` (continues a catch-up that ended with `synced {more: true}`). */
  z.strictObject({ type: z.literal("sync"), since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  z.strictObject({ type: z.literal("auth.refresh"), token: z.string().min(1).max(4096) }),
]);
export type ClientFrame = z.infer<typeof clientFrame>;
export const CLIENT_FRAME_TYPES = new Set<string>(clientFrame.options.map((o) => o.shape.type.value));

export interface AttachmentRef {
  id: string;
  filename: string;
  contentType: string;
  size: number;
}

/** What a system message records (who did what), besides its readable body. */
export type SystemEvent =
  | { event: "joined" | "left"; userId: string }
  | { event: "removed" | "banned"; userId: string; by: string }
  | { event: "role"; userId: string; role: "owner" | "admin" | "member"; by: string }
  | { event: "renamed"; name: string; by: string }
  | { event: "topic"; topic: string | null; by: string }
  /** Integrations (issue 27): a server posted this text through an API key (`by`: the key's principal). */
  | { event: "notice"; by: string };

export type MessageKind = "regular" | "system";

/** A message as clients see it. Deleted messages keep their seq with a null body (a tombstone). */
export interface MessageView {
  roomId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  body: string | null;
  replyTo: number | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  /** Only present when the message carries files (download: GET /api/attachments/:id). */
  attachments?: AttachmentRef[];
  /** Absent means "regular" (rooms and rows from before kinds existed). */
  kind?: MessageKind;
  /** Only on system messages: the structured event the body describes. */
  system?: SystemEvent;
  custom?: CustomData;
}

/** A membership change as the room's log records it. */
export type MemberChange =
  | { change: "joined"; userId: string; role: "owner" | "admin" | "member"; by: string }
  | { change: "left"; userId: string }
  | { change: "removed"; userId: string; by: string }
  | { change: "role"; userId: string; role: "owner" | "admin" | "member"; by: string }
  /** Room moderation: `until` null means until lifted. A ban also removes the member. */
  | { change: "banned" | "muted"; userId: string; by: string; until: string | null }
  | { change: "unbanned" | "unmuted"; userId: string; by: string };

/** Room settings that changed (only the fields present changed). */
export interface RoomChange {
  name?: string;
  topic?: string | null;
  isPublic?: boolean;
  custom?: CustomData | null;
  /** One message per this many seconds per member (0: off); owners and admins are exempt. */
  slowModeSeconds?: number;
  by: string;
}

/**
 * Frames that are changes to the room: each carries `v`, its number in the room's gapless change log, so
 * a client that applied v can ask for exactly what came after it (protocol 2).
 */
export type ChangeFrame =
  | ({ type: "message"; v: number } & MessageView)
  | { type: "edited"; v: number; seq: number; body: string; editedAt: string }
  | { type: "deleted"; v: number; seq: number; deletedAt: string }
  | { type: "receipt"; v: number; userId: string; seq: number }
  | { type: "reaction"; v: number; seq: number; userId: string; emoji: string; on: boolean }
  | { type: "pinned"; v: number; seq: number; userId: string; on: boolean }
  | ({ type: "member"; v: number } & MemberChange)
  | ({ type: "room"; v: number } & RoomChange);

export type ChangeType = ChangeFrame["type"];
/** A change as a command decides it, before the log gives it its number. */
export type UnnumberedChange = ChangeFrame extends infer F ? (F extends ChangeFrame ? Omit<F, "v"> : never) : never;

export type ServerFrame =
  /** `version`: the room's last change; `protocol`: what this room speaks (absent means 1). */
  | {
      type: "welcome";
      roomId: string;
      lastSeq: number;
      version?: number;
      protocol?: number;
      online: string[];
      you: string;
    }
  | ChangeFrame
  /** Protocol 1's `resume {lastSeq}` replays messages as they are now, without a change number. */
  | ({ type: "message"; v?: undefined } & MessageView)
  /**
   * A change this viewer does not see (its author is someone they block): it keeps the viewer's count
   * of versions gapless, and `seq` marks a message that exists but is hidden.
   */
  | { type: "hidden"; v: number; seq?: number }
  | { type: "ack"; clientMsgId: string; seq: number; duplicate?: true }
  | { type: "presence"; userId: string; state: "joined" | "left" }
  /** Several presence changes announced together (a connect storm); clients apply each in order. */
  | { type: "presence.batch"; changes: { userId: string; state: "joined" | "left" }[] }
  | { type: "typing"; userId: string; on: boolean }
  | { type: "resumed"; fromSeq: number; toSeq: number; more: boolean }
  /** Protocol 2: the changes fromVersion..toVersion were sent; `more` asks for `sync {since: toVersion}`. */
  | { type: "synced"; fromVersion: number; toVersion: number; more: boolean }
  /** `reason`: the deployment's rate limit ("rate", also when absent) or the room's slow mode. */
  | { type: "throttled"; retryAfterMs: number; clientMsgId?: string; reason?: "rate" | "slow_mode" }
  | { type: "auth.expiring"; expiresAt: number }
  | { type: "auth.refreshed"; expiresAt: number }
  | { type: "error"; code: ErrorCode; message: string; ref?: string }
  | { type: "pong" }
  /**
   * Several broadcast frames gathered in one (a busy room, to sockets opened with `?batch=1`): apply them
   * in order, exactly as if each had arrived alone. Never nested; changes keep their own `v`.
   */
  | { type: "batch"; frames: ServerFrame[] };
