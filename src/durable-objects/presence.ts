/**
 * Presence announcements, coalesced. A quiet room announces a join or a leave at once; while changes
 * keep coming (a connect storm, a reconnect wave after a network blip) they are gathered in SQLite and
 * announced together at most once per window, in one frame per socket. Announcing each change to every
 * socket costs N²/2 sends for N sockets joining: 1,000 joins took 11 s of the room's CPU before this.
 */
import type { ServerFrame } from "../protocol/frames";
import type { RoomStore } from "./room-store";
import type { SocketRegistry } from "./sockets";

export type PresenceState = Extract<ServerFrame, { type: "presence" }>["state"];

export interface PresenceDeps {
  store: RoomStore;
  sockets: SocketRegistry;
  windowMs: () => number;
  /** Brings the room's alarm forward to this time (never pushes it back). */
  armAlarm: (at: number) => void;
}

export class PresenceAnnouncer {
  private readonly deps: PresenceDeps;
  /** When the last announcement went out; in memory only, so a fresh object announces at once. */
  private lastAt = 0;

  constructor(deps: PresenceDeps) {
    this.deps = deps;
  }

  changed(userId: string, state: PresenceState, except: WebSocket | undefined, now: number): void {
    const { store, sockets } = this.deps;
    const due = this.lastAt + this.deps.windowMs();
    if (now >= due && !store.hasPendingPresence()) {
      this.lastAt = now;
      sockets.broadcast({ type: "presence", userId, state }, except);
      return;
    }
    store.queuePresence(userId);
    this.deps.armAlarm(Math.max(due, now));
  }

  /** When queued changes must go out, or null when none are waiting. */
  nextAt(): number | null {
    return this.deps.store.hasPendingPresence() ? this.lastAt + this.deps.windowMs() : null;
  }

  /**
   * Sends what is queued once its window has passed. Each user is announced in the state they are in
   * now, not the one queued: a join and a leave inside one window end as one `left`, and a queue that
   * outlived a restart cannot announce a user who is gone.
   */
  flushDue(now: number): void {
    const { store, sockets } = this.deps;
    if (now < this.lastAt + this.deps.windowMs()) return;
    const users = store.takePresence();
    if (users.length === 0) return;
    const online = new Set(sockets.onlineUsers());
    const changes = users.map((userId) => ({
      userId,
      state: (online.has(userId) ? "joined" : "left") as PresenceState,
    }));
    this.lastAt = now;
    const [only] = changes;
    const frame: ServerFrame =
      only && changes.length === 1 ? { type: "presence", ...only } : { type: "presence.batch", changes };
    sockets.broadcast(frame);
  }
}
