/**
 * How a room's state lands in an inbox entry. Pure functions (unit-tested in plain Node): states of one
 * room are ordered by (version, rev), so whichever order pushes and registration answers arrive in, the
 * entry ends as the newest state says, and a repeated push changes nothing.
 */
import type { InboxRoom, WatchedState } from "../../protocol/inbox";

/** True when `state` is at least as new as what the entry holds (equal: the same state, or a repeat). */
export function isNewer(state: { version: number; rev: number }, held: { version: number; rev: number }): boolean {
  return state.version > held.version || (state.version === held.version && state.rev >= held.rev);
}

/**
 * The entry after the room's `state`. `name(id)` resolves a sender's display name (null when not known
 * yet). Fields only Postgres knows (kind, role, peer's name) stay as they are.
 */
export function mergeState(entry: InboxRoom, state: WatchedState, name: (id: string) => string | null): InboxRoom {
  const last = state.lastMessage;
  const next: InboxRoom = {
    ...entry,
    version: state.version,
    lastSeq: state.lastSeq,
    readMark: state.readMark,
    unread: state.unread,
    mentions: state.mentions,
    lastMessage: last ? { ...last, senderName: last.senderName ?? name(last.senderId) } : null,
    activityAt: last && last.at > entry.activityAt ? last.at : entry.activityAt,
  };
  if (state.name !== undefined && entry.kind === "group") next.name = state.name;
  if (state.peer && entry.peer && state.peer.userId === entry.peer.id) {
    next.peer = { ...entry.peer, online: state.peer.online, lastSeenAt: state.peer.lastSeenAt };
  }
  return next;
}

/** The list as devices show it: newest activity first, then by id for a stable order. */
export function byActivity(a: InboxRoom, b: InboxRoom): number {
  if (a.activityAt !== b.activityAt) return a.activityAt < b.activityAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function totalUnread(rooms: Iterable<InboxRoom>): number {
  let total = 0;
  for (const r of rooms) total += r.unread;
  return total;
}
