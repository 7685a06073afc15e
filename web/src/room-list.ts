import { useEffect, useState } from "preact/hooks";
import type { RoomListItem } from "../../src/client";
import { client } from "./session";

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

/** Where the sidebar's rooms come from: polling REST now, the inbox socket later. */
export interface RoomListSource {
  subscribe(listener: (snapshot: RoomListSnapshot) => void): () => void;
  /** Read again now (after I created, joined or left a room). */
  refresh(): void;
}

const POLL_MS = 5000;

/** GET /api/rooms every few seconds, and at once on refresh() or when the browser is back online. */
export function pollingRoomList(): RoomListSource {
  let snapshot: RoomListSnapshot = { rooms: [], loading: true, stale: false };
  const listeners = new Set<(s: RoomListSnapshot) => void>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const set = (next: RoomListSnapshot) => {
    snapshot = next;
    for (const l of listeners) l(snapshot);
  };
  const read = () =>
    client.rooms.list({ limit: 100 }).then(
      (r) => set({ rooms: r.rooms.map(fromRest), loading: false, stale: false }),
      () => set({ ...snapshot, loading: false, stale: true }),
    );
  const online = () => read();
  return {
    subscribe(listener) {
      listeners.add(listener);
      listener(snapshot);
      if (listeners.size === 1) {
        read();
        timer = setInterval(read, POLL_MS);
        addEventListener("online", online);
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          clearInterval(timer);
          removeEventListener("online", online);
        }
      };
    },
    refresh: read,
  };
}

function fromRest(r: RoomListItem): RoomSummary {
  const peer = (r as RoomListItem & { peer?: { id: string; displayName: string } | null }).peer ?? null;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    role: r.role,
    peer: peer ? { ...peer, online: null } : null,
    lastSeq: r.lastSeq,
    unread: r.unread,
    lastMessage: r.lastMessage
      ? {
          seq: r.lastMessage.seq,
          senderId: r.lastMessage.senderId,
          body: r.lastMessage.body,
          at: r.lastMessage.createdAt,
        }
      : null,
    activityAt: r.lastMessageAt ?? r.createdAt,
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
