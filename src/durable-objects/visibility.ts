/**
 * Blocks among a room's members, applied per viewer where the room sends: a member someone blocks has
 * their messages, reactions and typing replaced, for that viewer only, by `hidden {v, seq?}` (typing:
 * dropped), live and in catch-up alike. Everyone else gets the frame as it is. Read from the room's
 * SQLite once per wake-up and after each change of blocks; a room without blocks pays one Map lookup.
 */
import type { ServerFrame } from "../protocol/frames";
import type { RoomStore } from "./room-store";

export class Visibility {
  private readonly store: RoomStore;
  /** blocked user → the members who block them. */
  private byBlocked: Map<string, Set<string>> | null = null;

  constructor(store: RoomStore) {
    this.store = store;
  }

  /** After blocks changed (or storage was wiped): read them again on next use. */
  forget(): void {
    this.byBlocked = null;
  }

  private map(): Map<string, Set<string>> {
    if (!this.byBlocked) {
      this.byBlocked = new Map();
      for (const [blocker, blocked] of this.store.blocks()) {
        const set = this.byBlocked.get(blocked) ?? new Set<string>();
        set.add(blocker);
        this.byBlocked.set(blocked, set);
      }
    }
    return this.byBlocked;
  }

  /** Who must not see this frame (the members blocking its author), or null when everyone may. */
  hiddenFrom(frame: ServerFrame): Set<string> | null {
    const map = this.map();
    if (map.size === 0) return null;
    const author = this.authorOf(frame);
    return author === null ? null : (map.get(author) ?? null);
  }

  /** The frame as `viewer` may see it: itself, its hidden stand-in, or null (send nothing). */
  view(frame: ServerFrame, viewer: string): ServerFrame | null {
    return this.hiddenFrom(frame)?.has(viewer) ? standIn(frame) : frame;
  }

  private authorOf(frame: ServerFrame): string | null {
    switch (frame.type) {
      case "message":
        return frame.senderId;
      case "reaction":
      case "typing":
        return frame.userId;
      case "edited":
      case "deleted":
        // Changes to a hidden message stay hidden: its author is its sender.
        return this.store.messageState(frame.seq)?.senderId ?? null;
      default:
        return null;
    }
  }
}

/** What a viewer who blocks the author gets instead of the frame. */
export function standIn(frame: ServerFrame): ServerFrame | null {
  if (!("v" in frame) || frame.v === undefined) return null;
  return frame.type === "message" || frame.type === "edited" || frame.type === "deleted"
    ? { type: "hidden", v: frame.v, seq: frame.seq }
    : { type: "hidden", v: frame.v };
}
