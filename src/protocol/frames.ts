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

const body = z.string().max(MAX_BODY_CHARS, `at most ${MAX_BODY_CHARS} characters`);
const nonEmpty = (b: string) => b.trim().length > 0;

const sendFields = {
  clientMsgId: z
    .string()
    .min(1)
    .max(MAX_CLIENT_MSG_ID_CHARS)
    .regex(/^[A-Za-z0-9_\-.:]+$/, "letters, digits and _ - . : only"),
  body,
  replyTo: seq.optional(),
  /** Ids from POST /api/rooms/:id/attachments whose bytes were uploaded by the sender. */
  attachments: z.array(z.uuid()).min(1).max(MAX_ATTACHMENTS).optional(),
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
}

export type ServerFrame =
  | { type: "welcome"; roomId: string; lastSeq: number; online: string[]; you: string }
  | ({ type: "message" } & MessageView)
  | { type: "ack"; clientMsgId: string; seq: number; duplicate?: true }
  | { type: "edited"; seq: number; body: string; editedAt: string }
  | { type: "deleted"; seq: number; deletedAt: string }
  | { type: "receipt"; userId: string; seq: number }
  | { type: "reaction"; seq: number; userId: string; emoji: string; on: boolean }
  | { type: "pinned"; seq: number; userId: string; on: boolean }
  | { type: "presence"; userId: string; state: "joined" | "left" }
  /** Several presence changes announced together (a connect storm); clients apply each in order. */
  | { type: "presence.batch"; changes: { userId: string; state: "joined" | "left" }[] }
  | { type: "typing"; userId: string; on: boolean }
  | { type: "resumed"; fromSeq: number; toSeq: number; more: boolean }
  | { type: "throttled"; retryAfterMs: number; clientMsgId?: string }
  | { type: "auth.expiring"; expiresAt: number }
  | { type: "auth.refreshed"; expiresAt: number }
  | { type: "error"; code: ErrorCode; message: string; ref?: string }
  | { type: "pong" };
