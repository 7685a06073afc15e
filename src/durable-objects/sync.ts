/**
 * Protocol 2 catch-up: a socket that says which version it has gets exactly the changes after it, once
 * each, in order, then goes live. While it catches up the socket is held (no live change reaches it); the
 * last part of the catch-up is read from the room's SQLite synchronously and the hold is lifted in the
 * same turn, so nothing committed meanwhile is skipped or sent twice. Older changes than the room keeps
 * come from Postgres (room_changes), after any gap in time.
 */
import { and, asc, eq, gt, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { roomChanges } from "../db/schema";
import { logJson } from "../lib/log";
import type { ChangeFrame, ServerFrame } from "../protocol/frames";
import type { RoomStore } from "./room-store";
import { type SocketRegistry, send } from "./sockets";

/** Changes per catch-up round; past this the client gets `synced {more: true}` and asks again. */
export const MAX_SYNC = 1000;

export interface SyncDeps {
  store: RoomStore;
  sockets: SocketRegistry;
  roomId: string;
  /** Runs a Postgres read under the room's deadline. */
  read: <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
  /** The frame as this socket's user may see it (blocks), or null to send nothing. */
  view: (frame: ServerFrame, viewer: string) => ServerFrame | null;
}

/**
 * Sends the changes after `since` (at most MAX_SYNC). The socket stays held until a round ends with
 * nothing more; an unreadable Postgres is an `unavailable` error (the socket stays held: the client asks
 * again, and receives nothing out of order meanwhile).
 */
export async function syncSocket(ws: WebSocket, since: number, deps: SyncDeps): Promise<void> {
  const { store, sockets } = deps;
  const viewer = sockets.of(ws)?.userId ?? "";
  const deliver = (frame: ChangeFrame) => {
    const seen = deps.view(frame, viewer);
    if (seen) send(ws, seen);
  };
  const current = store.lastVersion();
  if (since > current) {
    sockets.update(ws, { held: false });
    return send(ws, {
      type: "error",
      code: "resync_required",
      message: `version ${since} is past this room's version ${current}; reload the room and sync from its version`,
      ref: "sync",
    });
  }
  sockets.update(ws, { held: true });
  let cursor = since;
  let budget = MAX_SYNC;
  try {
    // Postgres first for what the room no longer keeps. The room keeps trimming while we wait (behind
    // its write-through), so where its log starts is asked again after every read.
    for (;;) {
      const start = store.changesStart();
      const behind = start === null ? cursor < store.lastVersion() : cursor + 1 < start;
      if (!behind || budget <= 0) break;
      const upTo = start ?? store.lastVersion() + 1;
      const from = cursor;
      const older = await deps.read((db) => fromPostgres(db, deps.roomId, from, upTo, budget));
      for (const frame of older) {
        // Postgres holds every change the room no longer does (the log is trimmed only behind the
        // write-through); a hole means a row was set aside as refused, and replaying past it would lie.
        if (frame.v !== cursor + 1) throw new Error(`change log hole at version ${cursor + 1}`);
        deliver(frame);
        cursor = frame.v;
      }
      if (older.length === 0) throw new Error(`change log hole at version ${cursor + 1}`);
      budget -= older.length;
    }
  } catch (err) {
    logJson("warn", { msg: "sync failed", roomId: deps.roomId, since, error: (err as Error).message });
    return send(ws, {
      type: "error",
      code: "unavailable",
      message: `changes after version ${cursor} are unavailable right now; send sync {since: ${cursor}} again shortly`,
      ref: "sync",
    });
  }
  // Synchronous from here to the end: nothing can commit between this read and the hold being lifted.
  const recent = budget > 0 ? store.changesAfter(cursor, budget) : [];
  for (const frame of recent) deliver(frame);
  if (recent.length > 0) cursor = (recent[recent.length - 1] as ChangeFrame).v;
  const more = cursor < store.lastVersion();
  send(ws, { type: "synced", fromVersion: since + 1, toVersion: cursor, more });
  if (!more) sockets.update(ws, { held: false });
}

async function fromPostgres(
  db: Db,
  roomId: string,
  after: number,
  before: number,
  limit: number,
): Promise<ChangeFrame[]> {
  const rows = await db
    .select({ version: roomChanges.version, frame: roomChanges.frame })
    .from(roomChanges)
    .where(and(eq(roomChanges.roomId, roomId), gt(roomChanges.version, after), lt(roomChanges.version, before)))
    .orderBy(asc(roomChanges.version))
    .limit(limit);
  return rows.map((r) => ({ ...r.frame, v: r.version }));
}
