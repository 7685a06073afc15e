/**
 * The room's one alarm, shared by everything that needs a wake-up: outbox retries, presence windows,
 * token warnings and heartbeat sweeps. `alarmAt` is mirrored in SQLite so bringing the alarm forward
 * needs no storage read, and a woken object knows what is set.
 */
import type { RoomStore } from "./room-store";

/** Never closer than this: an alarm due "now" would run before the current event has finished. */
export const MIN_DELAY_MS = 50;

export class AlarmClock {
  private readonly storage: DurableObjectStorage;
  private readonly store: RoomStore;

  constructor(storage: DurableObjectStorage, store: RoomStore) {
    this.storage = storage;
    this.store = store;
  }

  /** Brings the alarm forward to `at` if it is set later (or not at all); never pushes it back. */
  arm(at: number): void {
    const current = Number(this.store.getMeta("alarmAt") ?? 0);
    if (current > 0 && current <= at) return;
    this.store.setMeta("alarmAt", at);
    void this.storage.setAlarm(at);
  }

  /** Sets the alarm to the earliest of `times`, or clears it when there is nothing left to do. */
  async reschedule(times: number[], now: number): Promise<void> {
    if (times.length === 0) {
      this.store.setMeta("alarmAt", 0);
      await this.storage.deleteAlarm();
      return;
    }
    const at = Math.max(Math.min(...times), now + MIN_DELAY_MS);
    this.store.setMeta("alarmAt", at);
    await this.storage.setAlarm(at);
  }

  /** The alarm is running: whatever it was set for is now in the past. */
  fired(): void {
    this.store.setMeta("alarmAt", 0);
  }
}
