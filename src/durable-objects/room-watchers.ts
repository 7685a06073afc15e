/**
 * The room's side of the inbox (issue 25): a list of inboxes watching this room, and a coalesced push of
 * each watcher's state to its inbox. A watcher is an inbox with at least one device connected that
 * registered here (`watch`); it stays until its inbox answers a push with "gone" (no device left), until
 * the member leaves or is removed, or until pushes to it keep failing.
 *
 * Cost, whatever the message rate: one flush per INBOX_COALESCE_MS at most, and in a flush at most one
 * call per watcher whose state changed (W watchers: ≤ W calls per window). A message costs the send path
 * one comparison and, after a quiet spell, the arming of the alarm; the per-watcher work happens in the
 * flush. Offline members cost nothing here (their Queue notifications are untouched).
 *
 * What a watcher is told is state, not events: last seq, read mark, unread (own messages excluded),
 * mentions, the last message in brief, the name once renamed, the direct-room peer's presence. A push
 * that is lost or repeated is harmless: the next one carries the whole state again, and the inbox drops
 * any state older than the one it holds (ordered by the room's version, then `rev` for presence).
 */
import { mapBounded } from "../lib/bounded";
import { mentions } from "../lib/mentions";
import { inc } from "../lib/metrics";
import { previewOf } from "../lib/notification-text";
import type { ChangeFrame, ServerFrame } from "../protocol/frames";
import {
  PREVIEW_CHARS,
  type PushAnswer,
  type RemovedReason,
  type WatchedState,
  type WatchPush,
  type WatchRequest,
} from "../protocol/inbox";
import { MIN_DELAY_MS } from "./alarm-clock";
import type { RoomStore } from "./room-store";

/** Pushes in flight at once from one flush (workerd cancels subrequests past about six). */
const PUSH_CONCURRENCY = 6;
/** A watcher whose pushes failed this many times in a row is dropped (its inbox re-registers on connect). */
const MAX_PUSH_FAILURES = 5;
const RETRY_BASE_MS = 1000;

const SCHEMA = `
  -- Inboxes watching this room (one per member with a device connected), in the epoch they registered.
  CREATE TABLE IF NOT EXISTS inbox_watchers (
    user_id TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    display_name TEXT NOT NULL,
    peer_id TEXT,
    online INTEGER NOT NULL DEFAULT 1,
    removed TEXT,
    since INTEGER NOT NULL
  );
  -- Unread messages that mention a watcher (pruned as the watcher's read mark passes them).
  CREATE TABLE IF NOT EXISTS inbox_mentions (user_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, seq));
  -- Display names of members who have watched this room (previews name their sender without a lookup).
  CREATE TABLE IF NOT EXISTS inbox_names (user_id TEXT PRIMARY KEY, display_name TEXT NOT NULL);
  -- When a member's last device went away, as their inbox reported it (direct rooms show it).
  CREATE TABLE IF NOT EXISTS inbox_last_seen (user_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
  -- "My messages after my read mark" for unread: a range on (sender, seq) instead of a scan of the sender's.
  CREATE INDEX IF NOT EXISTS message_index_sender_seq ON message_index (sender_id, seq);
`;

interface WatcherRow extends Record<string, SqlStorageValue> {
  user_id: string;
  epoch: string;
  display_name: string;
  peer_id: string | null;
  online: number;
  removed: string | null;
}

export interface RoomWatchersDeps {
  sql: SqlStorage;
  store: RoomStore;
  roomId: () => string | null;
  windowMs: () => number;
  /** Brings the room's alarm forward to this time (never pushes it back). */
  armAlarm: (at: number) => void;
  /** One call to a user's inbox object. */
  push: (userId: string, epoch: string, state: WatchPush) => Promise<PushAnswer>;
}

export class RoomWatchers {
  private readonly deps: RoomWatchersDeps;
  /** What each watcher was last told (JSON), so an unchanged state is not sent again. Per wake-up. */
  private readonly pushed = new Map<string, string>();
  /** Consecutive failed pushes per watcher, and when to try again. Per wake-up. */
  private readonly failures = new Map<string, { count: number; retryAt: number }>();
  /** When the last flush ran: in memory, so a fresh object pushes at once. */
  private lastFlushAt = 0;
  private watcherCount: number | null = null;

  constructor(deps: RoomWatchersDeps) {
    this.deps = deps;
    deps.sql.exec(SCHEMA);
  }

  private get sql(): SqlStorage {
    return this.deps.sql;
  }

  private count(): number {
    this.watcherCount ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox_watchers").one().n;
    return this.watcherCount;
  }

  // --- what changed (called with every committed command's frames) -----------------------------------

  /**
   * A committed command's frames: anything that can change a watcher's state marks the room dirty and
   * arms one flush. Reactions, pins, joins and role changes change no watcher's state.
   */
  changed(frames: ServerFrame[]): void {
    if (frames.length === 0 || this.count() === 0) return;
    let relevant = false;
    for (const frame of frames) {
      switch (frame.type) {
        case "message":
        case "edited":
        case "deleted":
        case "receipt":
        case "room":
          relevant = true;
          break;
        case "member":
          if (this.memberGone(frame)) relevant = true;
          break;
      }
    }
    if (relevant) this.markDirty(Date.now());
  }

  private memberGone(frame: Extract<ChangeFrame, { type: "member" }>): boolean {
    const reason: RemovedReason | null =
      frame.change === "left"
        ? "left"
        : frame.change === "removed"
          ? "removed"
          : frame.change === "banned"
            ? "banned"
            : null;
    if (!reason) return false;
    return (
      this.sql.exec("UPDATE inbox_watchers SET removed = ? WHERE user_id = ?", reason, frame.userId).rowsWritten > 0
    );
  }

  private markDirty(now: number): void {
    const { store } = this.deps;
    if (store.getMeta("inbox:dirty") !== "1") store.setMeta("inbox:dirty", 1);
    this.deps.armAlarm(Math.max(this.lastFlushAt + this.deps.windowMs(), now + MIN_DELAY_MS));
  }

  /** Presence of watchers changed (it takes no version): bump the room's presence revision. */
  private presenceChanged(userId: string, now: number): void {
    const watchedBy = this.sql.exec("SELECT 1 FROM inbox_watchers WHERE peer_id = ? LIMIT 1", userId).next();
    if (watchedBy.done) return;
    this.deps.store.setMeta("inbox:rev", this.rev() + 1);
    this.markDirty(now);
  }

  private rev(): number {
    return Number(this.deps.store.getMeta("inbox:rev") ?? 0);
  }

  // --- RPC from inboxes ---------------------------------------------------------------------------------

  /** An inbox registers (or registers again, in a new epoch): its state now, which it applies. */
  watch(req: WatchRequest, now: number): WatchPush {
    const { store } = this.deps;
    const roomId = this.deps.roomId() ?? "";
    // Recorded as gone (left, removed, banned) after the inbox read its list: nothing to watch.
    if (store.rosterRole(req.userId) === "gone") return { roomId, removed: "removed" };
    const known = this.sql.exec("SELECT 1 FROM inbox_watchers WHERE user_id = ?", req.userId).next().done === false;
    // The first watcher starts the room-wide mention scan here (it scans its own unread part below).
    if (this.count() === 0 || store.getMeta("inbox:scannedSeq") === null) {
      store.setMeta("inbox:scannedSeq", store.lastSeq());
    }
    this.sql.exec(
      `INSERT INTO inbox_watchers (user_id, epoch, display_name, peer_id, online, removed, since) VALUES (?, ?, ?, ?, 1, NULL, ?)
       ON CONFLICT (user_id) DO UPDATE SET epoch = excluded.epoch, display_name = excluded.display_name,
         peer_id = excluded.peer_id, online = 1, removed = NULL, since = excluded.since`,
      req.userId,
      req.epoch,
      req.displayName,
      req.peerId,
      now,
    );
    if (!known) this.watcherCount = this.count() + 1;
    this.sql.exec(
      `INSERT INTO inbox_names (user_id, display_name) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name`,
      req.userId,
      req.displayName,
    );
    this.failures.delete(req.userId);
    const row = this.watcher(req.userId) as WatcherRow;
    this.scanMentions([row], this.readMark(req.userId));
    const state = this.stateOf(row, this.shared(), this.figures(req.userId));
    this.pushed.set(req.userId, JSON.stringify(state));
    this.presenceChanged(req.userId, now);
    inc("edgechat_inbox_watch_total");
    return state;
  }

  /** The inbox's session ended (its last device left and its grace ran out). */
  unwatch(userId: string, epoch: string, lastSeenAt: number | null, now: number): void {
    const gone = this.sql.exec("DELETE FROM inbox_watchers WHERE user_id = ? AND epoch = ?", userId, epoch).rowsWritten;
    if (gone > 0) this.forgetWatcher(userId);
    if (lastSeenAt !== null) this.setLastSeen(userId, lastSeenAt);
    this.presenceChanged(userId, now);
  }

  /** The member's devices came or went (the inbox stays registered through its grace period). */
  presence(userId: string, epoch: string, online: boolean, at: number): void {
    const changed = this.sql.exec(
      "UPDATE inbox_watchers SET online = ? WHERE user_id = ? AND epoch = ? AND online <> ?",
      online ? 1 : 0,
      userId,
      epoch,
      online ? 1 : 0,
    ).rowsWritten;
    if (!online) this.setLastSeen(userId, at);
    if (changed > 0) this.presenceChanged(userId, at);
  }

  private setLastSeen(userId: string, at: number): void {
    this.sql.exec(
      "INSERT INTO inbox_last_seen (user_id, at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET at = MAX(at, excluded.at)",
      userId,
      at,
    );
  }

  // --- the flush (run by the room's alarm) --------------------------------------------------------------

  /** When the alarm must next run for watchers, or null when nothing is waiting. */
  nextAt(): number | null {
    const times: number[] = [];
    if (this.deps.store.getMeta("inbox:dirty") === "1") times.push(this.lastFlushAt + this.deps.windowMs());
    for (const f of this.failures.values()) times.push(f.retryAt);
    return times.length ? Math.min(...times) : null;
  }

  /** Pushes every watcher's state that changed since it was last told (and retries due ones). */
  async flushDue(now: number): Promise<void> {
    const dirty = this.deps.store.getMeta("inbox:dirty") === "1";
    const retryDue = [...this.failures.values()].some((f) => f.retryAt <= now);
    if (!dirty && !retryDue) return;
    if (dirty && now < this.lastFlushAt + this.deps.windowMs() && !retryDue) return;
    this.lastFlushAt = now;
    if (dirty) this.deps.store.setMeta("inbox:dirty", 0);
    const rows = this.sql.exec<WatcherRow>("SELECT * FROM inbox_watchers").toArray();
    if (rows.length === 0) return;
    this.scanMentions(rows, null);
    const shared = this.shared();
    const figures = this.figures(null);
    const due: { row: WatcherRow; state: WatchPush; text: string }[] = [];
    for (const row of rows) {
      const failed = this.failures.get(row.user_id);
      if (failed && failed.retryAt > now) continue;
      const state = this.stateOf(row, shared, figures);
      const text = JSON.stringify(state);
      if (!failed && this.pushed.get(row.user_id) === text) continue;
      due.push({ row, state, text });
    }
    await this.pushAll(due);
  }

  private async pushAll(due: { row: WatcherRow; state: WatchPush; text: string }[]): Promise<void> {
    await mapBounded(due, PUSH_CONCURRENCY, (item) => this.pushOne(item.row, item.state, item.text));
  }

  private async pushOne(row: WatcherRow, state: WatchPush, text: string): Promise<void> {
    const userId = row.user_id;
    let answer: PushAnswer;
    try {
      answer = await this.deps.push(userId, row.epoch, state);
    } catch {
      const count = (this.failures.get(userId)?.count ?? 0) + 1;
      inc("edgechat_inbox_pushes_total", { outcome: "failed" });
      if (count >= MAX_PUSH_FAILURES) {
        this.drop(userId, row.epoch);
        return;
      }
      const retryAt = Date.now() + RETRY_BASE_MS * 2 ** (count - 1);
      this.failures.set(userId, { count, retryAt });
      this.deps.armAlarm(retryAt);
      return;
    }
    inc("edgechat_inbox_pushes_total", { outcome: answer });
    this.failures.delete(userId);
    if (answer === "gone" || "removed" in state) this.drop(userId, row.epoch);
    else this.pushed.set(userId, text);
  }

  /** Forgets a watcher of this epoch (a newer registration of the same user stays). */
  private drop(userId: string, epoch: string): void {
    const gone = this.sql.exec("DELETE FROM inbox_watchers WHERE user_id = ? AND epoch = ?", userId, epoch).rowsWritten;
    if (gone > 0) this.forgetWatcher(userId);
  }

  private forgetWatcher(userId: string): void {
    this.watcherCount = null;
    this.pushed.delete(userId);
    this.failures.delete(userId);
    this.sql.exec("DELETE FROM inbox_mentions WHERE user_id = ?", userId);
  }

  /** The room was deleted: every watcher is told (W calls, once), before the storage goes. */
  async roomDeleted(): Promise<void> {
    const roomId = this.deps.roomId() ?? "";
    const rows = this.sql.exec<WatcherRow>("SELECT * FROM inbox_watchers").toArray();
    const state: WatchPush = { roomId, removed: "deleted" };
    await mapBounded(rows, PUSH_CONCURRENCY, (row) =>
      this.deps.push(row.user_id, row.epoch, state).catch(() => "gone"),
    );
    this.forget();
  }

  /** After `deleteAll()`: nothing remembered may outlive the rows it described. */
  forget(): void {
    this.pushed.clear();
    this.failures.clear();
    this.watcherCount = null;
    this.lastFlushAt = 0;
  }

  // --- state ----------------------------------------------------------------------------------------------

  private watcher(userId: string): WatcherRow | null {
    const row = this.sql.exec<WatcherRow>("SELECT * FROM inbox_watchers WHERE user_id = ?", userId).next();
    return row.done ? null : row.value;
  }

  private readMark(userId: string): number {
    const row = this.sql.exec<{ seq: number }>("SELECT seq FROM read_marks WHERE user_id = ?", userId).next();
    return row.done ? 0 : row.value.seq;
  }

  /** What every watcher's state shares: computed once per flush. */
  private shared() {
    const { store } = this.deps;
    const lastSeq = store.lastSeq();
    const last = this.sql
      .exec<{ seq: number; sender_id: string; body: string | null; kind: string | null; created_at: number }>(
        "SELECT seq, sender_id, body, kind, created_at FROM messages WHERE seq = ?",
        lastSeq,
      )
      .next();
    const name = store.getMeta("setting:name");
    const senderName = last.done
      ? null
      : (this.sql
          .exec<{ display_name: string }>(
            "SELECT display_name FROM inbox_names WHERE user_id = ?",
            last.value.sender_id,
          )
          .next().value?.display_name ?? null);
    const blocked = new Set(store.blocks().map(([blocker, blockedId]) => `${blocker}:${blockedId}`));
    return {
      roomId: this.deps.roomId() ?? "",
      version: store.lastVersion(),
      rev: this.rev(),
      lastSeq,
      last: last.done ? null : { ...last.value, senderName },
      name: name ? (JSON.parse(name) as string) : undefined,
      blocked,
    };
  }

  /**
   * Each watcher's read mark, own messages after it and unread mentions, in three statements for all of
   * them (or for one user): a flush of a room with hundreds of watchers must not cost statements per watcher.
   */
  private figures(userId: string | null): Map<string, { mark: number; mine: number; mentions: number }> {
    const only = userId === null ? "" : "WHERE w.user_id = ?";
    const args = userId === null ? [] : [userId];
    const out = new Map<string, { mark: number; mine: number; mentions: number }>();
    for (const r of this.sql
      .exec<{ user_id: string; mark: number; mine: number }>(
        `SELECT w.user_id, COALESCE(r.seq, 0) AS mark,
           (SELECT COUNT(*) FROM message_index i WHERE i.sender_id = w.user_id AND i.seq > COALESCE(r.seq, 0)) AS mine
         FROM inbox_watchers w LEFT JOIN read_marks r ON r.user_id = w.user_id ${only}`,
        ...args,
      )
      .toArray()) {
      out.set(r.user_id, { mark: r.mark, mine: r.mine, mentions: 0 });
    }
    if (this.sql.exec("SELECT 1 FROM inbox_mentions LIMIT 1").next().done) return out;
    // Mentions the read mark has passed are done with.
    this.sql.exec(
      "DELETE FROM inbox_mentions WHERE seq <= COALESCE((SELECT seq FROM read_marks r WHERE r.user_id = inbox_mentions.user_id), 0)",
    );
    for (const r of this.sql
      .exec<{ user_id: string; n: number }>(
        `SELECT m.user_id, COUNT(*) AS n FROM inbox_mentions m JOIN message_index i ON i.seq = m.seq AND i.deleted = 0
          ${userId === null ? "" : "WHERE m.user_id = ?"} GROUP BY m.user_id`,
        ...args,
      )
      .toArray()) {
      const f = out.get(r.user_id);
      if (f) f.mentions = r.n;
    }
    return out;
  }

  private stateOf(
    row: WatcherRow,
    shared: ReturnType<RoomWatchers["shared"]>,
    figures: Map<string, { mark: number; mine: number; mentions: number }>,
  ): WatchPush {
    if (row.removed) return { roomId: shared.roomId, removed: row.removed as RemovedReason };
    const userId = row.user_id;
    const f = figures.get(userId) ?? { mark: 0, mine: 0, mentions: 0 };
    const mark = Math.min(f.mark, shared.lastSeq);
    const mine = f.mine;
    const mentioned = f.mentions;
    const last = shared.last;
    const hidden = last !== null && shared.blocked.has(`${userId}:${last.sender_id}`);
    const state: WatchedState = {
      roomId: shared.roomId,
      version: shared.version,
      rev: shared.rev,
      lastSeq: shared.lastSeq,
      readMark: mark,
      unread: Math.max(0, shared.lastSeq - mark - mine),
      mentions: mentioned,
      lastMessage: last
        ? {
            seq: last.seq,
            senderId: last.sender_id,
            senderName: last.senderName,
            body: last.body === null || hidden ? null : previewOf(last.body, PREVIEW_CHARS),
            kind: last.kind === "system" ? "system" : "regular",
            at: new Date(last.created_at).toISOString(),
          }
        : null,
      ...(shared.name !== undefined ? { name: shared.name } : {}),
    };
    if (row.peer_id) {
      const peer = this.watcher(row.peer_id);
      const seen = this.sql
        .exec<{ at: number }>("SELECT at FROM inbox_last_seen WHERE user_id = ?", row.peer_id)
        .next();
      const online = peer !== null && peer.online === 1;
      state.peer = {
        userId: row.peer_id,
        online,
        lastSeenAt: online || seen.done ? null : new Date(seen.value.at).toISOString(),
      };
    }
    return state;
  }

  /**
   * Records which unread messages mention each watcher: the messages since the last scan for everyone
   * (`from` null), or those after `from` (a new watcher's read mark). Reads the ring only, so mentions
   * count among the messages the room still keeps (ROOM_RING_SIZE).
   */
  private scanMentions(rows: WatcherRow[], from: number | null): void {
    const { store } = this.deps;
    const lastSeq = store.lastSeq();
    const after = from ?? Number(store.getMeta("inbox:scannedSeq") ?? lastSeq);
    if (from === null && after !== lastSeq) store.setMeta("inbox:scannedSeq", lastSeq);
    if (after >= lastSeq) return;
    const recent = this.sql
      .exec<{ seq: number; sender_id: string; body: string }>(
        "SELECT seq, sender_id, body FROM messages WHERE seq > ? AND body IS NOT NULL AND kind IS NULL ORDER BY seq",
        after,
      )
      .toArray();
    for (const m of recent) {
      if (!m.body.includes("@")) continue;
      for (const row of rows) {
        if (row.user_id === m.sender_id) continue;
        if (mentions(m.body, { id: row.user_id, displayName: row.display_name })) {
          this.sql.exec("INSERT OR IGNORE INTO inbox_mentions (user_id, seq) VALUES (?, ?)", row.user_id, m.seq);
        }
      }
    }
  }
}
