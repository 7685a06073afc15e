/**
 * The inbox: one socket per device (`GET /api/me/ws`) carrying the state of every room of the user, their
 * notifications and their direct-room peers' presence. Also what rooms and the worker tell a user's inbox
 * object over RPC. Shared by the inbox object, the rooms, the worker and the SDK.
 *
 * The inbox speaks state, not events: every delta carries the whole entry it changes, numbered `n`
 * (gapless per inbox epoch), so a device that has `n` needs exactly the deltas after it, and applying one
 * twice changes nothing.
 */
import { z } from "zod";
import type { ErrorCode } from "./errors";
import type { Role } from "./identity";
import type { notificationView } from "./responses/notifications";

/** Exact text the runtime answers without waking a hibernated inbox (setWebSocketAutoResponse). */
export { PING_FRAME, PONG_FRAME } from "./frames";

/** The most recent notifications an inbox keeps and sends in its snapshot. */
export const INBOX_NOTIFICATIONS = 20;
/** Characters of a message body a room's preview carries. */
export const PREVIEW_CHARS = 140;

export type NotificationItem = z.infer<typeof notificationView>;

/** Why a room left my list. */
export type RemovedReason = "left" | "removed" | "banned" | "deleted";

/** The other person of a direct room, and whether they have the app open (an inbox socket) right now. */
export interface InboxPeer {
  id: string;
  displayName: string;
  /** "bot" or "service" when the other side is not a person. */
  kind: "user" | "bot" | "service";
  online: boolean;
  /** When their last device went away (null: online, or never seen since inboxes existed). */
  lastSeenAt: string | null;
}

/** The last message of a room, in brief: a deleted message, or one by someone I block, has a null body. */
export interface InboxPreview {
  seq: number;
  senderId: string;
  /** Null until the inbox has learnt the name (it follows in a later `room` delta). */
  senderName: string | null;
  body: string | null;
  kind: "regular" | "system";
  at: string;
}

/** One room of my list as the inbox keeps it. */
export interface InboxRoom {
  id: string;
  kind: "group" | "direct";
  /** Group rooms' name; null for direct rooms (show `peer.displayName`). */
  name: string | null;
  role: Role;
  peer: InboxPeer | null;
  lastSeq: number;
  /** The room's change-log version this entry reflects (0: only what Postgres said). */
  version: number;
  /** My read mark: every message up to this seq is read. */
  readMark: number;
  /** Messages after my read mark, my own excluded (lastSeq − readMark − mine). */
  unread: number;
  /** Unread messages that mention me (@displayName or @userId) among those the room still keeps. */
  mentions: number;
  lastMessage: InboxPreview | null;
  /** Sort key: the last message's time, else when the room was created. */
  activityAt: string;
}

// --- device → inbox -------------------------------------------------------------------------------------

export const inboxClientFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ type: z.literal("auth.refresh"), token: z.string().min(1).max(4096) }),
  /** Diagnostics: this inbox's figures (answered with a `stats` frame). */
  z.strictObject({ type: z.literal("stats") }),
]);
export type InboxClientFrame = z.infer<typeof inboxClientFrame>;
export const INBOX_CLIENT_FRAME_TYPES = new Set<string>(inboxClientFrame.options.map((o) => o.shape.type.value));

// --- inbox → device -------------------------------------------------------------------------------------

/** A change to the inbox's state, numbered `n` (1, 2, 3 … per epoch). */
export type InboxDelta =
  /** A room was added to my list, or something in it changed: the whole entry. */
  | { type: "room"; n: number; room: InboxRoom }
  | { type: "room.removed"; n: number; roomId: string; reason: RemovedReason }
  /** My notifications: the unread count, and the ones created or changed (newest first). */
  | { type: "notifications"; n: number; unread: number; changed: NotificationItem[] };

export type InboxFrame =
  /**
   * The whole state at `n`, on connect (or when the deltas a device asked for are gone). `epoch` names
   * this run of the inbox: numbers restart with each epoch, so reconnect with both.
   */
  | {
      type: "snapshot";
      epoch: string;
      n: number;
      you: string;
      rooms: InboxRoom[];
      totalUnread: number;
      notifications: { unread: number; latest: NotificationItem[] };
    }
  | InboxDelta
  /** Reconnected with `?epoch=&since=`: the deltas after `since` were sent; live from here. */
  | { type: "synced"; epoch: string; fromN: number; toN: number }
  | { type: "auth.expiring"; expiresAt: number }
  | { type: "auth.refreshed"; expiresAt: number }
  | { type: "pong" }
  | ({ type: "stats" } & InboxStats)
  | { type: "error"; code: ErrorCode; message: string; ref?: string };

export type InboxDeltaType = InboxDelta["type"];

// --- room → inbox (RPC) ---------------------------------------------------------------------------------

/**
 * What a room says about one member's place in it: computed in the room from its own SQLite (the single
 * writer of messages and read marks), so it is exact when it is sent. `version` and `rev` order the states
 * of one room: a state older than the one an inbox holds is dropped.
 */
export interface WatchedState {
  roomId: string;
  /** The room's change-log version when this state was computed. */
  version: number;
  /** Bumped when watchers' presence changes (which takes no version). */
  rev: number;
  lastSeq: number;
  readMark: number;
  unread: number;
  mentions: number;
  lastMessage: {
    seq: number;
    senderId: string;
    /** Null when the room has never seen the sender with an inbox (the inbox then reads the name). */
    senderName: string | null;
    body: string | null;
    kind: "regular" | "system";
    at: string;
  } | null;
  /** Only when the room has recorded a rename (the inbox keeps Postgres's name otherwise). */
  name?: string;
  /** Direct rooms: the other member's presence as inboxes reported it. */
  peer?: { userId: string; online: boolean; lastSeenAt: string | null };
}

/** A room telling an inbox that the member is no longer in it. */
export interface WatchedGone {
  roomId: string;
  removed: RemovedReason;
}

export type WatchPush = WatchedState | WatchedGone;

/** What an inbox answers a push: `gone` asks the room to forget this watcher. */
export type PushAnswer = "ok" | "gone";

/** An inbox registering with a room it belongs to. */
export interface WatchRequest {
  userId: string;
  /** The inbox's epoch: a later `gone` only drops the registration of the epoch it was pushed to. */
  epoch: string;
  /** For counting mentions (@displayName). */
  displayName: string;
  /** Direct rooms: the other member, whose presence the room reports. */
  peerId: string | null;
}

export function isGone(push: WatchPush): push is WatchedGone {
  return "removed" in push;
}

/** Figures of one inbox (tests and operators). */
export interface InboxStats {
  userId: string | null;
  epoch: string | null;
  session: "off" | "loading" | "on";
  sockets: number;
  n: number;
  rooms: number;
  /** Rooms the inbox is registered with (live updates flow from them). */
  watching: number;
  /** Calls rooms made to this inbox in this epoch (pushes of state), and deltas it sent. */
  pushes: number;
  deltas: number;
}
