/**
 * The edgechat client SDK: `EdgechatClient` for accounts and REST, `client.room(id).connect()` for a
 * room's live stream. Runs in browsers, Node (>= 22, or 20 with `ws`) and Workers; no framework needed.
 */
export { type ClientOptions, EdgechatClient } from "./client";
export { EdgechatError } from "./errors";
export {
  type ConnectionState,
  RoomConnection,
  type RoomConnectionOptions,
  type RoomEvents,
} from "./room-connection";
export type { SocketFactory, SocketLike } from "./transport";
export type * from "./types";
