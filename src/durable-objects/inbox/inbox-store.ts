/**
 * The inbox's own SQLite: the session (epoch, delta counter), my rooms as the inbox shows them, the
 * numbered deltas kept for reconnecting devices, my latest notifications, the names it knows and used
 * tickets. Every method is synchronous. Rooms are read once per wake-up and kept in memory after: the
 * inbox is the only writer.
 */
import type { InboxDelta, InboxRoom, NotificationItem } from "../../protocol/inbox";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  -- My rooms: the entry devices see, the room's presence revision it reflects, and its registration.
  CREATE TABLE IF NOT EXISTS rooms (
    room_id TEXT PRIMARY KEY,
    entry TEXT NOT NULL,
    rev INTEGER NOT NULL DEFAULT 0,
    watched INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_at INTEGER NOT NULL DEFAULT 0
  );
  -- Deltas of this epoch, numbered gaplessly; the newest INBOX_DELTA_LOG_SIZE are kept.
  CREATE TABLE IF NOT EXISTS deltas (n INTEGER PRIMARY KEY, frame TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, view TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS people (user_id TEXT PRIMARY KEY, display_name TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS used_tickets (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
`;

export interface HeldRoom {
  entry: InboxRoom;
  /** The room's presence revision this entry reflects (versions order everything else). */
  rev: number;
  watched: boolean;
  failures: number;
  /** When to try registering again after a failure (0: as soon as the session's watch round runs). */
  retryAt: number;
}

export type SessionState = "off" | "loading" | "on";

export class InboxStore {
  private readonly sql: SqlStorage;
  private rooms: Map<string, HeldRoom> | null = null;
  private meta = new Map<string, string | null>();
  private n: number | null = null;

  constructor(storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
  }

  // --- meta ---------------------------------------------------------------------------------------------

  getMeta(key: string): string | null {
    if (this.meta.has(key)) return this.meta.get(key) ?? null;
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).next();
    const value = row.done ? null : row.value.value;
    this.meta.set(key, value);
    return value;
  }

  setMeta(key: string, value: string | number | null): void {
    if (value === null) {
      this.meta.set(key, null);
      this.sql.exec("DELETE FROM meta WHERE key = ?", key);
      return;
    }
    if (this.meta.get(key) === String(value)) return;
    this.meta.set(key, String(value));
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      String(value),
    );
  }

  get session(): SessionState {
    return (this.getMeta("session") as SessionState | null) ?? "off";
  }

  get epoch(): string | null {
    return this.getMeta("epoch");
  }

  /** A new epoch: everything of the previous one goes (the first device of a session gets a snapshot). */
  startEpoch(epoch: string): void {
    this.sql.exec("DELETE FROM rooms");
    this.sql.exec("DELETE FROM deltas");
    this.sql.exec("DELETE FROM notifications");
    this.rooms = new Map();
    this.n = 0;
    this.setMeta("n", 0);
    this.setMeta("epoch", epoch);
    this.setMeta("session", "loading");
  }

  endEpoch(): void {
    this.sql.exec("DELETE FROM rooms");
    this.sql.exec("DELETE FROM deltas");
    this.sql.exec("DELETE FROM notifications");
    this.rooms = new Map();
    this.n = 0;
    this.setMeta("n", 0);
    this.setMeta("epoch", null);
    this.setMeta("session", "off");
  }

  // --- rooms ----------------------------------------------------------------------------------------------

  allRooms(): Map<string, HeldRoom> {
    if (!this.rooms) {
      this.rooms = new Map();
      const rows = this.sql
        .exec<{ room_id: string; entry: string; rev: number; watched: number; failures: number; retry_at: number }>(
          "SELECT * FROM rooms",
        )
        .toArray();
      for (const r of rows) {
        this.rooms.set(r.room_id, {
          entry: JSON.parse(r.entry) as InboxRoom,
          rev: r.rev,
          watched: r.watched === 1,
          failures: r.failures,
          retryAt: r.retry_at,
        });
      }
    }
    return this.rooms;
  }

  room(roomId: string): HeldRoom | undefined {
    return this.allRooms().get(roomId);
  }

  putRoom(held: HeldRoom): void {
    this.allRooms().set(held.entry.id, held);
    this.sql.exec(
      `INSERT INTO rooms (room_id, entry, rev, watched, failures, retry_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id) DO UPDATE SET entry = excluded.entry, rev = excluded.rev, watched = excluded.watched,
         failures = excluded.failures, retry_at = excluded.retry_at`,
      held.entry.id,
      JSON.stringify(held.entry),
      held.rev,
      held.watched ? 1 : 0,
      held.failures,
      held.retryAt,
    );
  }

  removeRoom(roomId: string): boolean {
    const had = this.allRooms().delete(roomId);
    this.sql.exec("DELETE FROM rooms WHERE room_id = ?", roomId);
    return had;
  }

  // --- deltas ---------------------------------------------------------------------------------------------

  /** The number of the last delta of this epoch. */
  lastN(): number {
    this.n ??=
      this.sql.exec<{ n: number | null }>("SELECT MAX(n) AS n FROM deltas").one().n ?? Number(this.getMeta("n") ?? 0);
    return this.n;
  }

  /** Numbers and records a delta; the caller sends it. Keeps the newest `keep`. */
  appendDelta(delta: DistributiveOmit<InboxDelta, "n">, keep: number): InboxDelta {
    const n = this.lastN() + 1;
    const frame = { ...delta, n } as InboxDelta;
    this.sql.exec("INSERT INTO deltas (n, frame) VALUES (?, ?)", n, JSON.stringify(frame));
    this.n = n;
    if (n % Math.max(1, Math.floor(keep / 16)) === 0) {
      this.setMeta("n", n);
      this.sql.exec("DELETE FROM deltas WHERE n <= ?", n - keep);
    }
    return frame;
  }

  /** Deltas after `since`, or null when some of them are no longer kept. */
  deltasAfter(since: number): string[] | null {
    const last = this.lastN();
    if (since > last) return null;
    if (since === last) return [];
    const first = this.sql.exec<{ n: number | null }>("SELECT MIN(n) AS n FROM deltas").one().n;
    if (first === null || first > since + 1) return null;
    return this.sql
      .exec<{ frame: string }>("SELECT frame FROM deltas WHERE n > ? ORDER BY n", since)
      .toArray()
      .map((r) => r.frame);
  }

  // --- notifications --------------------------------------------------------------------------------------

  notifications(): NotificationItem[] {
    return this.sql
      .exec<{ view: string }>("SELECT view FROM notifications ORDER BY created_at DESC, id DESC")
      .toArray()
      .map((r) => JSON.parse(r.view) as NotificationItem);
  }

  /** Replaces the kept notifications with `latest`; answers those that are new or changed. */
  setNotifications(latest: NotificationItem[]): NotificationItem[] {
    const before = new Map(
      this.sql
        .exec<{ id: string; view: string }>("SELECT id, view FROM notifications")
        .toArray()
        .map((r) => [r.id, r.view]),
    );
    const changed: NotificationItem[] = [];
    const keep = new Set<string>();
    for (const view of latest) {
      const text = JSON.stringify(view);
      keep.add(view.id);
      if (before.get(view.id) === text) continue;
      changed.push(view);
      this.sql.exec(
        "INSERT INTO notifications (id, view, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET view = excluded.view",
        view.id,
        text,
        view.createdAt,
      );
    }
    for (const id of before.keys()) if (!keep.has(id)) this.sql.exec("DELETE FROM notifications WHERE id = ?", id);
    return changed;
  }

  // --- people ---------------------------------------------------------------------------------------------

  name(userId: string): string | null {
    const row = this.sql
      .exec<{ display_name: string }>("SELECT display_name FROM people WHERE user_id = ?", userId)
      .next();
    return row.done ? null : row.value.display_name;
  }

  putNames(names: Map<string, string>): void {
    for (const [id, name] of names) {
      this.sql.exec(
        "INSERT INTO people (user_id, display_name) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name",
        id,
        name,
      );
    }
  }

  // --- tickets --------------------------------------------------------------------------------------------

  /** Records a ticket id; false if it was already used (tickets are single-use). */
  useTicket(jti: string, expiresAt: number, now: number): boolean {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", now);
    return (
      this.sql.exec("INSERT OR IGNORE INTO used_tickets (jti, expires_at) VALUES (?, ?)", jti, expiresAt).rowsWritten >
      0
    );
  }
}

/** Omit over each member of a union (plain Omit would merge them). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
