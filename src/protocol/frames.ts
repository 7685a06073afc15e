/**
 * WebSocket frames (JSON text), validated by one schema module shared by the room object and clients.
 * The ChatRoom issue extends the client-frame union; frames not listed here get an `error` frame back.
 */
import { z } from "zod";
import type { ErrorCode } from "./errors";

/** Exact text the runtime answers without waking a hibernated room (setWebSocketAutoResponse). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

export const clientFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ type: z.literal("typing"), on: z.boolean() }),
]);
export type ClientFrame = z.infer<typeof clientFrame>;

export type ServerFrame =
  | { type: "welcome"; roomId: string; lastSeq: number; online: string[]; you: string }
  | { type: "presence"; userId: string; state: "joined" | "left" }
  | { type: "typing"; userId: string; on: boolean }
  | { type: "error"; code: ErrorCode; message: string; ref?: string }
  | { type: "pong" };
