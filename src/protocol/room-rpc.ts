/**
 * What the worker and the room say to each other over RPC: the commands a member gives a room (the same
 * verbs as the client's WebSocket frames, plus `pin`, which only REST offers), what the room answers,
 * and the figures it reports. The room never imports the worker; both import this.
 */
import type { ErrorCode } from "./errors";
import type { CustomData, MemberChange, MessageView, SendMessage } from "./frames";
import type { Role } from "./identity";

/**
 * Worker only: a membership change already committed in Postgres (the source of truth for membership),
 * recorded in the room's change log. `names` label the system message (display names by user id);
 * `announce: false` records the change without a system message (a room's first members, direct rooms).
 * Idempotent: the room records a change only if it differs from what it last recorded for that user.
 */
export type MemberCommand = {
  type: "member";
  change: MemberChange["change"];
  userId: string;
  role?: Role;
  /** Bans and mutes: when they end (ISO time), or null/absent until lifted. */
  until?: string | null;
  names?: Record<string, string>;
  announce?: boolean;
};

/** Worker only (a room moderator's action): every message of `userId` in the room is deleted. */
export type PurgeCommand = { type: "purge"; userId: string };

/**
 * Worker only: who blocks whom among this room's members (pairs [blocker, blocked]), added or removed.
 * The room hides a blocked member's messages, reactions and typing from the blocker, per socket; in a
 * direct room (`direct`), a block either way refuses every send.
 */
export type BlocksCommand = { type: "blocks"; pairs: [string, string][]; on: boolean; direct?: boolean };

/** Worker only: room settings already changed in Postgres, recorded in the room's change log. */
export type RoomUpdateCommand = {
  type: "room";
  name?: string;
  topic?: string | null;
  isPublic?: boolean;
  custom?: CustomData | null;
  slowModeSeconds?: number;
  names?: Record<string, string>;
};

/**
 * Worker only (integrations, issue 27): a `kind: "system"` message a server posts through an API key,
 * with `system: {event: "notice", by}`. Idempotent on (actor, clientMsgId) like a send; not throttled.
 */
export type NoticeCommand = { type: "notice"; clientMsgId: string; body: string; custom?: CustomData };

/**
 * Worker only (integrations, issue 27), retention: these messages are past the room's lifetime; each that
 * is not deleted yet becomes a tombstone (a `deleted` change). At most 500 per command.
 */
export type TombstoneCommand = { type: "tombstone"; seqs: number[] };

/**
 * Worker only (integrations, issue 27), account deletion: remove `userId`'s reactions (listed by the worker
 * from Postgres), tombstone their messages when `messages` (the deployment deletes rather than anonymises),
 * forget their blocks. Idempotent.
 */
export type EraseCommand = {
  type: "erase";
  userId: string;
  messages: boolean;
  reactions: { seq: number; emoji: string }[];
};

/** What a member may do from a socket or REST (the same verbs as the client's frames, plus `pin`). */
export type MemberAction =
  | ({ type: "send" } & SendMessage)
  | { type: "edit"; seq: number; body: string }
  | { type: "delete"; seq: number }
  | { type: "react"; seq: number; emoji: string; on: boolean }
  | { type: "pin"; seq: number; on: boolean }
  | { type: "read"; seq: number };

export type RoomCommand =
  | MemberAction
  | MemberCommand
  | RoomUpdateCommand
  | PurgeCommand
  | BlocksCommand
  | NoticeCommand
  | TombstoneCommand
  | EraseCommand;

export type CommandType = RoomCommand["type"];

export type Rejected = { status: "rejected"; code: ErrorCode; message: string };

export type SendResult =
  | { status: "accepted"; message: MessageView }
  | { status: "duplicate"; seq: number; message: MessageView | null }
  | { status: "throttled"; retryAfterMs: number; reason?: "rate" | "slow_mode" }
  | Rejected;

export type ChangeResult = { status: "ok"; count?: number } | Rejected;

/** A send answers with the message; every other command with ok or a refusal. */
export type CommandResult<C extends RoomCommand = RoomCommand> = C extends { type: "send" | "notice" }
  ? SendResult
  : ChangeResult;

/** Why the worker closes a user's sockets: 4001 asks the client to sign in again, 4003 not to retry. */
export type DisconnectReason = "logged_out" | "removed" | "banned" | "room_banned";

export interface RoomStats {
  roomId: string | null;
  lastSeq: number;
  sockets: number;
  online: string[];
  outbox: { depth: number; oldestAt: number | null; deadLetters: number };
  buffer: { min: number; max: number; count: number } | null;
  throttleHits: number;
}
