/**
 * The room's own SQLite: the single place where a message becomes real. Every method is synchronous, so
 * each runs to completion without another event interleaving, and its writes commit together.
 */
import type { AttachmentRef, ChangeFrame, MessageView, UnnumberedChange } from "../protocol/frames";

/** Outbox row kinds, each written through to Postgres in order; "change" only records the log entry. */
export type OutboxKind = "message" | "edit" | "delete" | "read" | "reaction" | "pin" | "change";

/** The room's system messages have clientMsgId `system:<version>`; the frame schema refuses it to clients. */
export const SYSTEM_ID_PREFIX = "system:";

export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  seq: number;
  payload: string;
  created_at: number;
  /** The change-log entry this row writes through (null for rows queued before the log existed). */
  version: number | null;
  /** That entry's frame as JSON text, read with the row. */
  frame: string | null;
}

export interface MessagePayload {
  message: MessageView;
  requestId?: string;
}
export interface EditPayload {
  seq: number;
  body: string;
  editedAt: string;
}
export interface DeletePayload {
  seq: number;
  deletedAt: string;
}
export interface ReactionPayload {
  seq: number;
  userId: string;
  emoji: string;
  on: boolean;
}
export interface PinPayload {
  seq: number;
  userId: string;
  on: boolean;
  at: string;
}
export interface ReadPayload {
  userId: string;
  seq: number;
}

interface RingRow extends Record<string, SqlStorageValue> {
  seq: number;
  sender_id: string;
  client_msg_id: string;
  body: string | null;
  reply_to: number | null;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  attachments: string | null;
  kind: string | null;
  system: string | null;
  custom: string | null;
}

const SCHEMA = `
  -- The recent ring: full messages, newest RING_SIZE (plus anything not yet in Postgres).
  CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    sender_id TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    body TEXT,
    reply_to INTEGER,
    created_at INTEGER NOT NULL,
    edited_at INTEGER,
    deleted_at INTEGER
  );
  -- Every message ever accepted: seq order, idempotency keys (forever) and ownership for edits.
  CREATE TABLE IF NOT EXISTS message_index (
    seq INTEGER PRIMARY KEY,
    sender_id TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (sender_id, client_msg_id)
  );
  -- Changes not yet confirmed by Postgres, in the order they happened.
  CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS outbox_kind_id ON outbox (kind, id);
  -- Outbox rows Postgres refused for good (constraint or data errors), kept for operators.
  CREATE TABLE IF NOT EXISTS outbox_dead (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at INTEGER NOT NULL
  );
  -- Sliding-window log per user; rejected = 1 rows count abuse, not allowance.
  CREATE TABLE IF NOT EXISTS throttle_log (
    user_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    rejected INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS throttle_log_user_at ON throttle_log (user_id, rejected, at);
  CREATE TABLE IF NOT EXISTS reactions (seq INTEGER NOT NULL, user_id TEXT NOT NULL, emoji TEXT NOT NULL, PRIMARY KEY (seq, user_id, emoji));
  CREATE TABLE IF NOT EXISTS pins (seq INTEGER PRIMARY KEY, pinned_by TEXT NOT NULL, pinned_at INTEGER NOT NULL);
  -- Each member's highest read seq, so receipts only ever move forward.
  CREATE TABLE IF NOT EXISTS read_marks (user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS used_tickets (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  -- The room's change log: every change, numbered gaplessly (version), as the frame clients received.
  -- Recent entries only (plus any not yet in Postgres); older ones are read from Postgres.
  CREATE TABLE IF NOT EXISTS changes (
    version INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    seq INTEGER,
    frame TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS changes_seq ON changes (seq);
  -- Membership as this room last recorded it (role NULL: gone), so a retried record is not a new change.
  CREATE TABLE IF NOT EXISTS roster (user_id TEXT PRIMARY KEY, role TEXT);
  -- Room bans and mutes as recorded here (until: ms, NULL until lifted); mutes are enforced from this.
  CREATE TABLE IF NOT EXISTS sanctions (user_id TEXT NOT NULL, kind TEXT NOT NULL, until INTEGER, PRIMARY KEY (user_id, kind));
  -- Each member's last accepted send, kept only while slow mode is on.
  CREATE TABLE IF NOT EXISTS last_sent (user_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
  -- Who blocks whom among this room's members: the blocked member's content is hidden from the blocker.
  CREATE TABLE IF NOT EXISTS blocks (blocker TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (blocker, blocked));
  -- Users whose presence changed while announcements were being coalesced (presence.ts).
  CREATE TABLE IF NOT EXISTS presence_pending (user_id TEXT PRIMARY KEY);
  -- Uploads announced by the worker once their bytes are in R2; used_seq is the message that took each.
  CREATE TABLE IF NOT EXISTS room_attachments (
    id TEXT PRIMARY KEY, uploader_id TEXT NOT NULL, filename TEXT NOT NULL, content_type TEXT NOT NULL,
    size INTEGER NOT NULL, used_seq INTEGER, created_at INTEGER
  );
`;

export class RoomStore {
  private readonly sql: SqlStorage;
  private readonly storage: DurableObjectStorage;
  /** The last accepted seq, read once per wake-up: the room is its only writer, so memory stays exact. */
  private seq: number | null = null;
  /** The last change-log version, likewise. */
  private version: number | null = null;
  private meta = new Map<string, string | null>();
  /** Per user, accepted send times still in the throttle window (see throttleWindow). */
  private windows = new Map<string, number[]>();

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
    // Rooms created before attachments existed get the column on their next start.
    const columns = this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('messages')").toArray();
    if (!columns.some((c) => c.name === "attachments"))
      this.sql.exec("ALTER TABLE messages ADD COLUMN attachments TEXT");
    // Rooms created before message kinds, custom data and the change log get their columns now.
    for (const name of ["kind", "system", "custom"]) {
      if (!columns.some((c) => c.name === name)) this.sql.exec(`ALTER TABLE messages ADD COLUMN ${name} TEXT`);
    }
    const uploads = this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('room_attachments')").toArray();
    if (!uploads.some((c) => c.name === "created_at"))
      this.sql.exec("ALTER TABLE room_attachments ADD COLUMN created_at INTEGER");
    const outbox = this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('outbox')").toArray();
    if (!outbox.some((c) => c.name === "version")) this.sql.exec("ALTER TABLE outbox ADD COLUMN version INTEGER");
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.storage.transactionSync(fn);
    } catch (err) {
      // A rolled-back insert must not keep its seq (the next message takes it: gapless), nor a rolled-back
      // send its place in the throttle window.
      this.forget();
      throw err;
    }
  }

  /** After `deleteAll()` or a rollback: nothing cached may outlive the data it was read from. */
  forget(): void {
    this.seq = null;
    this.version = null;
    this.meta.clear();
    this.windows.clear();
  }

  // --- meta ---------------------------------------------------------------------------------------

  /** Read once per wake-up per key (slow mode and room kind are read on every send); writes keep it exact. */
  getMeta(key: string): string | null {
    if (this.meta.has(key)) return this.meta.get(key) ?? null;
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).next();
    const value = row.done ? null : row.value.value;
    this.meta.set(key, value);
    return value;
  }

  setMeta(key: string, value: string | number): void {
    this.meta.set(key, String(value));
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      String(value),
    );
  }

  // --- presence -----------------------------------------------------------------------------------

  queuePresence(userId: string): void {
    this.sql.exec("INSERT OR IGNORE INTO presence_pending (user_id) VALUES (?)", userId);
  }

  hasPendingPresence(): boolean {
    return !this.sql.exec("SELECT 1 FROM presence_pending LIMIT 1").next().done;
  }

  /** The queued users, in no particular order, and an empty queue after. */
  takePresence(): string[] {
    const users = this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM presence_pending")
      .toArray()
      .map((r) => r.user_id);
    if (users.length > 0) this.sql.exec("DELETE FROM presence_pending");
    return users;
  }

  /** Counters operators read through `stats()` (throttle hits); kept in SQLite so restarts keep them. */
  bump(key: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
      key,
    );
  }

  // --- messages -----------------------------------------------------------------------------------

  lastSeq(): number {
    this.seq ??= this.sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM message_index").one().s ?? 0;
    return this.seq;
  }

  seqForClientId(senderId: string, clientMsgId: string): number | null {
    const row = this.sql
      .exec<{ seq: number }>(
        "SELECT seq FROM message_index WHERE sender_id = ? AND client_msg_id = ?",
        senderId,
        clientMsgId,
      )
      .next();
    return row.done ? null : row.value.seq;
  }

  /** Who sent message `seq` and whether it is deleted; null when the room has no such message. */
  messageState(seq: number): { senderId: string; deleted: boolean; system: boolean } | null {
    const row = this.sql
      .exec<{ sender_id: string; deleted: number; client_msg_id: string }>(
        "SELECT sender_id, deleted, client_msg_id FROM message_index WHERE seq = ?",
        seq,
      )
      .next();
    if (row.done) return null;
    const { sender_id, deleted, client_msg_id } = row.value;
    return { senderId: sender_id, deleted: deleted === 1, system: client_msg_id.startsWith(SYSTEM_ID_PREFIX) };
  }

  /** Appends a message with the next seq; the caller runs this inside a transaction with its outbox row. */
  insertMessage(m: Omit<MessageView, "seq" | "roomId" | "editedAt" | "deletedAt">, roomId: string): MessageView {
    const files = m.attachments?.length ? JSON.stringify(m.attachments) : null;
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    const seq = this.lastSeq() + 1;
    const createdAt = Date.parse(m.createdAt);
    this.sql.exec(
      "INSERT INTO message_index (seq, sender_id, client_msg_id) VALUES (?, ?, ?)",
      seq,
      m.senderId,
      m.clientMsgId,
    );
    this.sql.exec(
      "INSERT INTO messages (seq, sender_id, client_msg_id, body, reply_to, created_at, attachments, kind, system, custom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      seq,
      m.senderId,
      m.clientMsgId,
      m.body,
      m.replyTo,
      createdAt,
      files,
      m.kind === "system" ? "system" : null,
      json(m.system),
      json(m.custom),
    );
    this.seq = seq;
    return { ...m, roomId, seq, editedAt: null, deletedAt: null };
  }

  editMessage(seq: number, body: string, editedAt: number): void {
    this.sql.exec("UPDATE messages SET body = ?, edited_at = ? WHERE seq = ?", body, editedAt, seq);
  }

  deleteMessage(seq: number, deletedAt: number): void {
    this.sql.exec("UPDATE message_index SET deleted = 1 WHERE seq = ?", seq);
    this.sql.exec(
      "UPDATE messages SET body = NULL, attachments = NULL, custom = NULL, deleted_at = ? WHERE seq = ?",
      deletedAt,
      seq,
    );
    // A deleted message's words leave the log too: catch-up replays a tombstone, never the text.
    this.sql.exec(
      `UPDATE changes SET frame = json_set(json_remove(frame, '$.attachments', '$.custom'), '$.body', json('null'))
        WHERE seq = ? AND kind IN ('message', 'edited')`,
      seq,
    );
  }

  /** The role this room last recorded for a user, "gone" if they left, null if it never recorded them. */
  rosterRole(userId: string): string | null {
    const row = this.sql.exec<{ role: string | null }>("SELECT role FROM roster WHERE user_id = ?", userId).next();
    return row.done ? null : (row.value.role ?? "gone");
  }

  setRoster(userId: string, role: string | null): void {
    this.sql.exec(
      "INSERT INTO roster (user_id, role) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET role = excluded.role",
      userId,
      role,
    );
  }

  // --- moderation --------------------------------------------------------------------------------

  /** The sanction as recorded: its end (ms, or null until lifted), or undefined when there is none. */
  sanction(userId: string, kind: "ban" | "mute"): number | null | undefined {
    const row = this.sql
      .exec<{ until: number | null }>("SELECT until FROM sanctions WHERE user_id = ? AND kind = ?", userId, kind)
      .next();
    return row.done ? undefined : row.value.until;
  }

  setSanction(userId: string, kind: "ban" | "mute", until: number | null | undefined): void {
    if (until === undefined) {
      this.sql.exec("DELETE FROM sanctions WHERE user_id = ? AND kind = ?", userId, kind);
      return;
    }
    this.sql.exec(
      "INSERT INTO sanctions (user_id, kind, until) VALUES (?, ?, ?) ON CONFLICT (user_id, kind) DO UPDATE SET until = excluded.until",
      userId,
      kind,
      until,
    );
  }

  /** True while the user is muted here. */
  isMuted(userId: string, now: number): boolean {
    const until = this.sanction(userId, "mute");
    return until !== undefined && (until === null || until > now);
  }

  lastSentAt(userId: string): number | null {
    const row = this.sql.exec<{ at: number }>("SELECT at FROM last_sent WHERE user_id = ?", userId).next();
    return row.done ? null : row.value.at;
  }

  setLastSent(userId: string, at: number): void {
    this.sql.exec(
      "INSERT INTO last_sent (user_id, at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET at = excluded.at",
      userId,
      at,
    );
  }

  /**
   * Seqs of a sender's messages not yet deleted, oldest first. The room's notices naming them ("Ana
   * joined") are not their content: a moderator's purge leaves them, an account's erasure takes them too.
   */
  liveSeqsOf(senderId: string, withNotices = false): number[] {
    return this.sql
      .exec<{ seq: number }>(
        "SELECT seq FROM message_index WHERE sender_id = ? AND deleted = 0 AND (? OR client_msg_id NOT LIKE ?) ORDER BY seq",
        senderId,
        withNotices ? 1 : 0,
        `${SYSTEM_ID_PREFIX}%`,
      )
      .toArray()
      .map((r) => r.seq);
  }

  setBlocks(pairs: [string, string][], on: boolean): number {
    let changed = 0;
    for (const [blocker, blocked] of pairs) {
      const cursor = on
        ? this.sql.exec("INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES (?, ?)", blocker, blocked)
        : this.sql.exec("DELETE FROM blocks WHERE blocker = ? AND blocked = ?", blocker, blocked);
      changed += cursor.rowsWritten;
    }
    return changed;
  }

  /** True when a block stands between this user and anyone in the room, either way. */
  isInBlock(userId: string): boolean {
    return !this.sql.exec("SELECT 1 FROM blocks WHERE blocker = ? OR blocked = ? LIMIT 1", userId, userId).next().done;
  }

  /** Every block among this room's members, as [blocker, blocked]. */
  blocks(): [string, string][] {
    return this.sql
      .exec<{ blocker: string; blocked: string }>("SELECT blocker, blocked FROM blocks")
      .toArray()
      .map((r) => [r.blocker, r.blocked]);
  }

  // --- change log ---------------------------------------------------------------------------------

  /** The room's last change-log version (0 before its first change). */
  lastVersion(): number {
    this.version ??= this.sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM changes").one().v ?? 0;
    // The log may have been trimmed to nothing (never below an unconfirmed row): the meta copy is the floor.
    if (this.version === 0) this.version = Number(this.getMeta("version") ?? 0);
    return this.version;
  }

  /**
   * Gives a change the next version and records it; the caller runs this inside the command's
   * transaction, so the change and its number commit together or not at all.
   */
  logChange<C extends UnnumberedChange>(change: C, seq: number | null, now: number): C & { v: number } {
    const v = this.lastVersion() + 1;
    const frame = { ...change, v } as C & { v: number };
    this.sql.exec(
      "INSERT INTO changes (version, kind, seq, frame, at) VALUES (?, ?, ?, ?, ?)",
      v,
      change.type,
      seq,
      JSON.stringify(frame),
      now,
    );
    this.version = v;
    return frame;
  }

  /** Lowest version still held here, or null when the log holds nothing. */
  changesStart(): number | null {
    return this.sql.exec<{ v: number | null }>("SELECT MIN(version) AS v FROM changes").one().v;
  }

  /** Changes after `afterVersion`, in order, at most `limit`. */
  changesAfter(afterVersion: number, limit: number): ChangeFrame[] {
    return this.sql
      .exec<{ frame: string }>(
        "SELECT frame FROM changes WHERE version > ? ORDER BY version LIMIT ?",
        afterVersion,
        limit,
      )
      .toArray()
      .map((r) => JSON.parse(r.frame) as ChangeFrame);
  }

  /**
   * Keeps the newest `size` log entries, never one Postgres lacks (catch-up reads older ones from there).
   * Trimmed every size/16 changes, like the ring.
   */
  trimChanges(size: number): void {
    const v = this.lastVersion();
    if (v % Math.max(1, Math.floor(size / 16)) !== 0) return;
    this.setMeta("version", v);
    this.sql.exec(
      `DELETE FROM changes WHERE version <= ? - ?
         AND version < COALESCE((SELECT MIN(version) FROM outbox WHERE version IS NOT NULL), 9007199254740991)`,
      v,
      size,
    );
  }

  // --- attachments --------------------------------------------------------------------------------

  /** Idempotent: the worker announces an upload again when a client retries a PUT whose first announce failed. */
  registerAttachment(a: AttachmentRef & { uploaderId: string; createdAt: number }): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO room_attachments (id, uploader_id, filename, content_type, size, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      a.id,
      a.uploaderId,
      a.filename,
      a.contentType,
      a.size,
      a.createdAt,
    );
  }

  /**
   * Takes the sender's uploaded, unused attachments for message `seq`, in the order given; null (and
   * nothing taken) when any id is unknown here, someone else's, already in a message, or created before
   * `createdAfter` (about to be swept as an orphan). Rows announced before created_at existed have none.
   */
  claimAttachments(ids: string[], uploaderId: string, seq: number, createdAfter: number): AttachmentRef[] | null {
    const refs: AttachmentRef[] = [];
    for (const id of ids) {
      const row = this.sql
        .exec<{ filename: string; content_type: string; size: number }>(
          "SELECT filename, content_type, size FROM room_attachments WHERE id = ? AND uploader_id = ? AND used_seq IS NULL AND (created_at IS NULL OR created_at >= ?)",
          id,
          uploaderId,
          createdAfter,
        )
        .next();
      if (row.done) return null;
      refs.push({ id, filename: row.value.filename, contentType: row.value.content_type, size: row.value.size });
    }
    for (const id of ids) this.sql.exec("UPDATE room_attachments SET used_seq = ? WHERE id = ?", seq, id);
    return refs;
  }

  /** Lowest seq still held in the ring, or null when the ring is empty. */
  ringStart(): number | null {
    return this.sql.exec<{ s: number | null }>("SELECT MIN(seq) AS s FROM messages").one().s;
  }

  ringRange(afterSeq: number, limit: number, roomId: string): MessageView[] {
    return this.sql
      .exec<RingRow>("SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
      .toArray()
      .map((r) => toView(r, roomId));
  }

  /** Message `seq` as the ring holds it, or null once it has been trimmed (or never existed). */
  messageInRing(seq: number, roomId: string): MessageView | null {
    return this.ringRange(seq - 1, 1, roomId).find((m) => m.seq === seq) ?? null;
  }

  /**
   * Keeps the ring at `size` messages, but never drops one that Postgres has not confirmed: resume reads
   * anything older than the ring from Postgres, so everything older must already be there.
   */
  trimRing(size: number): void {
    // A trim per send is one more statement (with two subqueries) on the hot path; a ring overshooting by
    // up to size/16 between trims is harmless, so big rings trim every few dozen messages, small ones
    // (tests) every message.
    const seq = this.lastSeq();
    if (seq % Math.max(1, Math.floor(size / 16)) !== 0) return;
    // Outbox ids follow acceptance order, so the first message row by id holds the lowest unconfirmed seq.
    this.sql.exec(
      `DELETE FROM messages WHERE seq <= (SELECT MAX(seq) FROM messages) - ?
         AND seq < COALESCE((SELECT seq FROM outbox WHERE kind = 'message' ORDER BY id LIMIT 1), 9007199254740991)`,
      size,
    );
  }

  // --- outbox -------------------------------------------------------------------------------------

  /** Queues a change for Postgres: `version` names the log entry written through with it. */
  enqueue(kind: OutboxKind, seq: number, payload: unknown, now: number, version: number | null = null): void {
    this.sql.exec(
      "INSERT INTO outbox (kind, seq, payload, created_at, version) VALUES (?, ?, ?, ?, ?)",
      kind,
      seq,
      JSON.stringify(payload),
      now,
      version,
    );
  }

  outboxBatch(limit: number): OutboxRow[] {
    return this.sql
      .exec<OutboxRow & Record<string, SqlStorageValue>>(
        `SELECT o.id, o.kind, o.seq, o.payload, o.created_at, o.version, c.frame
           FROM outbox o LEFT JOIN changes c ON c.version = o.version ORDER BY o.id LIMIT ?`,
        limit,
      )
      .toArray();
  }

  outboxStats(): { depth: number; oldestAt: number | null } {
    const r = this.sql
      .exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox")
      .one();
    return { depth: r.n, oldestAt: r.oldest };
  }

  /** Postgres confirmed every row up to this id (batches are always taken from the head of the outbox). */
  ackOutboxThrough(id: number): void {
    this.sql.exec("DELETE FROM outbox WHERE id <= ?", id);
  }

  ackOutboxRow(id: number): void {
    this.sql.exec("DELETE FROM outbox WHERE id = ?", id);
  }

  deadLetter(row: OutboxRow, error: string, now: number): void {
    this.transaction(() => {
      this.sql.exec(
        "INSERT OR REPLACE INTO outbox_dead (id, kind, seq, payload, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
        row.id,
        row.kind,
        row.seq,
        row.payload,
        error.slice(0, 1000),
        now,
      );
      this.sql.exec("DELETE FROM outbox WHERE id = ?", row.id);
    });
  }

  deadLetterCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox_dead").one().n;
  }

  // --- throttle -----------------------------------------------------------------------------------

  /** Timestamps of a user's accepted (or rejected) sends since `since`, oldest first. */
  throttleLog(userId: string, since: number, rejected: boolean): number[] {
    return this.sql
      .exec<{ at: number }>(
        "SELECT at FROM throttle_log WHERE user_id = ? AND rejected = ? AND at > ? ORDER BY at",
        userId,
        rejected ? 1 : 0,
        since,
      )
      .toArray()
      .map((r) => r.at);
  }

  /**
   * The user's accepted send times after `since`, oldest first. Read from throttle_log once per wake-up
   * and kept in memory after: counting the log on every send cost a scan of every send in the window
   * (a fifth of the runtime's CPU at 1,000/s in bench:profile write); the log stays the durable copy.
   */
  throttleWindow(userId: string, since: number, limit: number): number[] {
    let times = this.windows.get(userId);
    if (!times) {
      times = this.sql
        .exec<{ at: number }>(
          "SELECT at FROM throttle_log WHERE user_id = ? AND rejected = 0 AND at > ? ORDER BY at DESC LIMIT ?",
          userId,
          since,
          limit,
        )
        .toArray()
        .map((r) => r.at)
        .reverse();
      this.windows.set(userId, times);
    }
    let expired = 0;
    while (expired < times.length && (times[expired] as number) <= since) expired++;
    if (expired > 0) times.splice(0, expired);
    return times;
  }

  logSend(userId: string, at: number, rejected: boolean): void {
    this.sql.exec("INSERT INTO throttle_log (user_id, at, rejected) VALUES (?, ?, ?)", userId, at, rejected ? 1 : 0);
    if (!rejected) this.windows.get(userId)?.push(at);
  }

  pruneThrottle(before: number): void {
    this.sql.exec("DELETE FROM throttle_log WHERE at <= ?", before);
  }

  /** Adds or removes one reaction; false when nothing changed (already there, or already gone). */
  setReaction(seq: number, userId: string, emoji: string, on: boolean): boolean {
    const cursor = on
      ? this.sql.exec("INSERT OR IGNORE INTO reactions (seq, user_id, emoji) VALUES (?, ?, ?)", seq, userId, emoji)
      : this.sql.exec("DELETE FROM reactions WHERE seq = ? AND user_id = ? AND emoji = ?", seq, userId, emoji);
    return cursor.rowsWritten > 0;
  }

  pinnedBy(seq: number): string | null {
    const row = this.sql.exec<{ pinned_by: string }>("SELECT pinned_by FROM pins WHERE seq = ?", seq).next();
    return row.done ? null : row.value.pinned_by;
  }

  setPin(seq: number, userId: string, on: boolean, at: number): boolean {
    const cursor = on
      ? this.sql.exec("INSERT OR IGNORE INTO pins (seq, pinned_by, pinned_at) VALUES (?, ?, ?)", seq, userId, at)
      : this.sql.exec("DELETE FROM pins WHERE seq = ?", seq);
    return cursor.rowsWritten > 0;
  }

  /** Moves a member's read mark forward; false when seq is not past the current mark. */
  advanceReadMark(userId: string, seq: number): boolean {
    const cursor = this.sql.exec(
      `INSERT INTO read_marks (user_id, seq) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > read_marks.seq`,
      userId,
      seq,
    );
    return cursor.rowsWritten > 0;
  }

  // --- tickets ------------------------------------------------------------------------------------

  /** Records a ticket id; false if it was already used (tickets are single-use). */
  useTicket(jti: string, expiresAt: number, now: number): boolean {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", now);
    const cursor = this.sql.exec("INSERT OR IGNORE INTO used_tickets (jti, expires_at) VALUES (?, ?)", jti, expiresAt);
    return cursor.rowsWritten > 0;
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function toView(r: RingRow, roomId: string): MessageView {
  return {
    ...(r.kind === "system" ? { kind: "system" as const } : {}),
    ...(r.system ? { system: JSON.parse(r.system) } : {}),
    ...(r.custom ? { custom: JSON.parse(r.custom) } : {}),
    roomId,
    seq: r.seq,
    senderId: r.sender_id,
    clientMsgId: r.client_msg_id,
    body: r.body,
    replyTo: r.reply_to,
    createdAt: new Date(r.created_at).toISOString(),
    editedAt: iso(r.edited_at),
    deletedAt: iso(r.deleted_at),
    ...(r.attachments ? { attachments: JSON.parse(r.attachments) as AttachmentRef[] } : {}),
  };
}
