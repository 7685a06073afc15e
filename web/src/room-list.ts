import { useEffect, useState } from "preact/hooks";
import type { InboxConnection, InboxRoom, InboxState } from "../../src/client";

/**
 * One room of my list as the sidebar shows it. Shaped after the inbox's room entry (src/protocol/inbox.ts
 * `InboxRoom`) so the sidebar does not change when its source moves from polling to the inbox socket.
 */
export interface RoomSummary {
  id: string;
  kind: "group" | "direct";
  name: string | null;
  role: "owner" | "admin" | "member";
  /** Direct rooms: the other person (online is unknown, null, until a source can tell). */
  peer: { id: string; displayName: string; online: boolean | null } | null;
  lastSeq: number;
  unread: number;
  lastMessage: { seq: number; senderId: string; body: string | null; at: string | null } | null;
  activityAt: string;
}

export interface RoomListSnapshot {
  rooms: RoomSummary[];
  /** Still loading the first answer. */
  loading: boolean;
  /** The last read failed (offline, server down): the list shown is the last one known. */
  stale: boolean;
}

/** Where the sidebar's rooms come from (the inbox socket). */
export interface RoomListSource {
  subscribe(listener: (snapshot: RoomListSnapshot) => void): () => void;
  /** Read again now (after I created, joined or left a room). */
  refresh(): void;
}

/**
 * The room list from the user's inbox socket (one per device): a snapshot on connect, then every change
 * live, in any room, with no polling. The notification count comes with it (see `inboxUnread`).
 */
export function inboxRoomList(inbox: InboxConnection): RoomListSource {
  let snapshot: RoomListSnapshot = { rooms: [], loading: true, stale: false };
  const listeners = new Set<(s: RoomListSnapshot) => void>();
  let stop: (() => void) | null = null;
  const onState = (state: InboxState | null) => {
    snapshot = state
      ? { rooms: state.rooms.map(fromInbox), loading: false, stale: inbox.state !== "open" }
      : { ...snapshot, stale: true };
    for (const l of listeners) l(snapshot);
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      listener(snapshot);
      stop ??= inbox.subscribe(onState);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          stop?.();
          stop = null;
        }
      };
    },
    // The inbox is told of every room I join, create or leave: nothing to read again.
    refresh: () => undefined,
  };
}

function fromInbox(r: InboxRoom): RoomSummary {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    role: r.role,
    peer: r.peer ? { id: r.peer.id, displayName: r.peer.displayName, online: r.peer.online } : null,
    lastSeq: r.lastSeq,
    unread: r.unread,
    lastMessage: r.lastMessage
      ? { seq: r.lastMessage.seq, senderId: r.lastMessage.senderId, body: r.lastMessage.body, at: r.lastMessage.at }
      : null,
    activityAt: r.activityAt,
  };
}

export function useRoomList(source: RoomListSource): RoomListSnapshot {
  const [snap, setSnap] = useState<RoomListSnapshot>({ rooms: [], loading: true, stale: false });
  useEffect(() => source.subscribe(setSnap), [source]);
  return snap;
}

/** A room's name as a person reads it: "# design", or the other person's name in a direct chat. */
export function roomTitle(r: { kind: "group" | "direct"; name: string | null; peer?: { displayName: string } | null }) {
  if (r.kind === "direct") return r.peer?.displayName ?? "Direct chat";
  return r.name ?? "Room";
}
