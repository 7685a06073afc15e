/**
 * The inbox as a device keeps it: a snapshot, then every numbered delta applied once and in order. Pure
 * functions (unit-tested in plain Node); InboxConnection feeds them.
 */
import type { InboxDelta, InboxFrame, InboxRoom, NotificationItem, RemovedReason } from "../protocol/inbox";

export type { InboxDelta, InboxRoom, NotificationItem, RemovedReason };

export interface InboxState {
  /** The inbox run this state belongs to: numbers `n` count within it. */
  epoch: string;
  /** The last delta applied. */
  n: number;
  /** The signed-in user. */
  you: string;
  /** My rooms, newest activity first. */
  rooms: InboxRoom[];
  /** Unread messages over every room (my own excluded). */
  totalUnread: number;
  notifications: { unread: number; latest: NotificationItem[] };
}

/** A delta arrived whose predecessor never did: the connection asks for what it missed. */
export class InboxGapError extends Error {
  readonly expected: number;
  readonly got: number;
  constructor(expected: number, got: number) {
    super(`inbox delta ${got} arrived after ${expected - 1}`);
    this.name = "InboxGapError";
    this.expected = expected;
    this.got = got;
  }
}

/** How many notifications the state keeps (the inbox sends as many). */
const KEEP_NOTIFICATIONS = 20;

export function fromSnapshot(frame: Extract<InboxFrame, { type: "snapshot" }>): InboxState {
  const rooms = [...frame.rooms].sort(byActivity);
  return {
    epoch: frame.epoch,
    n: frame.n,
    you: frame.you,
    rooms,
    totalUnread: sumUnread(rooms),
    notifications: { unread: frame.notifications.unread, latest: [...frame.notifications.latest] },
  };
}

/**
 * The state after `delta`. A delta already applied (n ≤ state.n) changes nothing; one that skips a
 * number throws InboxGapError, so nothing is ever applied out of order.
 */
export function applyDelta(state: InboxState, delta: InboxDelta): InboxState {
  if (delta.n <= state.n) return state;
  if (delta.n !== state.n + 1) throw new InboxGapError(state.n + 1, delta.n);
  switch (delta.type) {
    case "room": {
      const rooms = state.rooms.filter((r) => r.id !== delta.room.id);
      rooms.push(delta.room);
      rooms.sort(byActivity);
      return { ...state, n: delta.n, rooms, totalUnread: sumUnread(rooms) };
    }
    case "room.removed": {
      const rooms = state.rooms.filter((r) => r.id !== delta.roomId);
      return { ...state, n: delta.n, rooms, totalUnread: sumUnread(rooms) };
    }
    case "notifications": {
      const byId = new Map(state.notifications.latest.map((v) => [v.id, v]));
      for (const v of delta.changed) byId.set(v.id, v);
      const latest = [...byId.values()]
        .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1))
        .slice(0, KEEP_NOTIFICATIONS);
      return { ...state, n: delta.n, notifications: { unread: delta.unread, latest } };
    }
  }
}

/** Newest activity first, then by id, as the inbox sends them. */
export function byActivity(a: InboxRoom, b: InboxRoom): number {
  if (a.activityAt !== b.activityAt) return a.activityAt < b.activityAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function sumUnread(rooms: InboxRoom[]): number {
  let total = 0;
  for (const r of rooms) total += r.unread;
  return total;
}

/** What a room is called in a list: its name, or for a direct room the other person's. */
export function roomTitle(room: InboxRoom): string {
  if (room.kind === "direct") return room.peer?.displayName ?? "Direct chat";
  return room.name ?? "Untitled room";
}
