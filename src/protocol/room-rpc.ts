/**
 * What the worker and the room say to each other over RPC: the commands a member gives a room (the same
 * verbs as the client's WebSocket frames, plus `pin`, which only REST offers), what the room answers,
 * and the figures it reports. The room never imports the worker; both import this.
 */
import type { ErrorCode } from "./errors";
import type { MessageView, SendMessage } from "./frames";

export type RoomCommand =
  | ({ type: "send" } & SendMessage)
  | { type: "edit"; seq: number; body: string }
  | { type: "delete"; seq: number }
  | { type: "react"; seq: number; emoji: string; on: boolean }
  | { type: "pin"; seq: number; on: boolean }
  | { type: "read"; seq: number };

export type CommandType = RoomCommand["type"];

export type Rejected = { status: "rejected"; code: ErrorCode; message: string };

export type SendResult =
  | { status: "accepted"; message: MessageView }
  | { status: "duplicate"; seq: number; message: MessageView | null }
  | { status: "throttled"; retryAfterMs: number }
  | Rejected;

export type ChangeResult = { status: "ok" } | Rejected;

/** A send answers with the message; every other command with ok or a refusal. */
export type CommandResult<C extends RoomCommand = RoomCommand> = C extends { type: "send" } ? SendResult : ChangeResult;

/** Why the worker closes a user's sockets: 4001 asks the client to sign in again, 4003 not to retry. */
export type DisconnectReason = "logged_out" | "removed" | "banned";

export interface RoomStats {
  roomId: string | null;
  lastSeq: number;
  sockets: number;
  online: string[];
  outbox: { depth: number; oldestAt: number | null; deadLetters: number };
  buffer: { min: number; max: number; count: number } | null;
  throttleHits: number;
}
