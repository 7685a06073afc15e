/**
 * What the room's one alarm does when it fires, and when it must fire next: retry the outbox, sweep
 * sockets (heartbeats, token expiry), send coalesced presence, prune the throttle log, push coalesced
 * state to watching inboxes.
 */
import type { AlarmClock } from "./alarm-clock";
import { guarded } from "./error-path";
import type { Heartbeats } from "./heartbeats";
import type { OutboxFlusher } from "./outbox-flusher";
import type { PresenceAnnouncer } from "./presence";
import type { RoomStore } from "./room-store";

export interface RoomAlarmDeps {
  clock: AlarmClock;
  store: RoomStore;
  outbox: OutboxFlusher;
  heartbeats: Heartbeats;
  presence: PresenceAnnouncer;
  throttleWindowMs: () => number;
  roomId: () => string | null;
  /** Inbox hook (issue 25): coalesced pushes to watching inboxes. */
  inboxes?: { flushDue(now: number): Promise<void>; nextAt(): number | null };
}

export class RoomAlarm {
  private readonly deps: RoomAlarmDeps;

  constructor(deps: RoomAlarmDeps) {
    this.deps = deps;
  }

  async run(): Promise<void> {
    const { clock, store, outbox, heartbeats, presence } = this.deps;
    clock.fired();
    const now = Date.now();
    // Never let the alarm throw: the platform gives up after 6 retries, and the outbox must not.
    await guarded("alarm", this.deps.roomId(), async () => {
      if (store.outboxStats().depth > 0) await outbox.flushSoon(true);
      heartbeats.sweep(now);
      presence.flushDue(now);
      store.pruneThrottle(now - this.deps.throttleWindowMs());
      await this.deps.inboxes?.flushDue(now);
    }).catch(() => undefined);
    await this.reschedule();
  }

  /** Sets the alarm to the earliest thing the room must do next, or clears it when there is nothing. */
  async reschedule(): Promise<void> {
    const { clock, store, outbox, heartbeats, presence } = this.deps;
    const now = Date.now();
    const times = heartbeats.allDeadlines();
    if (store.outboxStats().depth > 0) times.push(outbox.retryAt() || now + 1000);
    const presenceAt = presence.nextAt();
    if (presenceAt !== null) times.push(presenceAt);
    const inboxAt = this.deps.inboxes?.nextAt() ?? null;
    if (inboxAt !== null) times.push(inboxAt);
    await clock.reschedule(times, now);
  }
}
