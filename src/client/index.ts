/**
 * The edgechat client SDK: `EdgechatClient` for accounts and REST, `client.room(id).connect()` for a
 * room's live stream and its kept state. Runs in browsers, Node (>= 22, or 20 with `ws`) and Workers; no
 * framework needed.
 */

export type { CustomData, MemberChange, RoomChange, SystemEvent } from "../protocol/frames";
export { type ClientOptions, EdgechatClient } from "./client";
export { EdgechatError } from "./errors";
export { InboxConnection, type InboxEvents, type InboxOptions } from "./inbox";
export {
  applyDelta,
  byActivity,
  fromSnapshot,
  type InboxDelta,
  InboxGapError,
  type InboxRoom,
  type InboxState,
  type NotificationItem,
  type RemovedReason,
  roomTitle,
} from "./inbox-state";
export {
  indexedDbOutboxStorage,
  memoryOutboxStorage,
  type OutboxStorage,
  type StoredSend,
} from "./outbox-storage";
export {
  type ConnectionState,
  type PendingSend,
  RoomConnection,
  type RoomConnectionOptions,
  type RoomEvents,
} from "./room-connection";
export {
  applyChange,
  type ChangeFrame,
  ChangeGapError,
  ChangeLog,
  emptyState,
  fromPage,
  hasOlder,
  mergeMembers,
  mergePage,
  mergeRoom,
  messageList,
  type ReactionState,
  type RoomSettings,
  type RoomSnapshot,
  type RoomState,
  reactionCount,
  type SnapshotMessage,
  type StateMessage,
  seenBy,
  snapshot,
} from "./room-state";
export type { SocketFactory, SocketLike } from "./transport";
export type * from "./types";
