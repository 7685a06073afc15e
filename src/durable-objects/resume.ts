/**
 * Replays exactly the messages after a client's lastSeq, in order: from Postgres for anything older than
 * the room's SQLite ring (the ring never drops a message Postgres lacks), then from the ring.
 */
import { and, asc, eq, gt, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { toMessageView } from "../db/message-view";
import { messages } from "../db/schema";
import { logJson } from "../lib/log";
import type { MessageView } from "../protocol/frames";
import type { RoomStore } from "./room-store";
import { type SocketRegistry, send } from "./sockets";

/** Messages per resume; past this the client gets `more: true` and resumes again from toSeq. */
export const MAX_REPLAY = 1000;

interface ReplayDeps {
  store: RoomStore;
  db: () => Db;
  roomId: string;
}

export interface ResumeDeps {
  store: RoomStore;
  sockets: SocketRegistry;
  roomId: string;
  /** Runs a Postgres read under the room's deadline. */
  read: <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
}

/**
 * A client's `resume {lastSeq}`: live messages for this socket wait (the replay's tail includes them),
 * then it gets everything after lastSeq. An unreachable Postgres is an `unavailable` error to retry.
 */
export async function resume(ws: WebSocket, lastSeq: number, deps: ResumeDeps): Promise<void> {
  const last = deps.store.lastSeq();
  if (lastSeq > last) {
    return send(ws, {
      type: "error",
      code: "resync_required",
      message: `lastSeq ${lastSeq} is past this room's last seq ${last}; drop local state and resume from 0`,
      ref: "resume",
    });
  }
  deps.sockets.update(ws, { resuming: true });
  try {
    await deps.read((db) => replay(ws, lastSeq, { store: deps.store, db: () => db, roomId: deps.roomId }));
  } catch (err) {
    logJson("warn", { msg: "resume failed", roomId: deps.roomId, error: (err as Error).message });
    send(ws, {
      type: "error",
      code: "unavailable",
      message: "history is unavailable right now; resume again shortly",
      ref: "resume",
    });
  } finally {
    deps.sockets.update(ws, { resuming: false });
  }
}

export async function replay(ws: WebSocket, lastSeq: number, deps: ReplayDeps): Promise<void> {
  let cursor = lastSeq;
  let budget = MAX_REPLAY;
  // The ring keeps trimming while Postgres is read (behind the write-through): where it starts is asked
  // again after every read, or the replay would skip what was trimmed meanwhile.
  for (;;) {
    const ringStart = deps.store.ringStart();
    if (ringStart === null || cursor + 1 >= ringStart || budget <= 0) break;
    const older = await fromPostgres(deps.db(), deps.roomId, cursor, ringStart, budget);
    for (const m of older) send(ws, { type: "message", ...m });
    if (older.length === 0) break;
    cursor = (older[older.length - 1] as MessageView).seq;
    budget -= older.length;
  }
  // Synchronous from here: nothing accepted meanwhile can slip between this read and the end of the replay.
  const recent = budget > 0 ? deps.store.ringRange(cursor, budget, deps.roomId) : [];
  for (const m of recent) send(ws, { type: "message", ...m });
  if (recent.length > 0) cursor = (recent[recent.length - 1] as MessageView).seq;
  send(ws, { type: "resumed", fromSeq: lastSeq + 1, toSeq: cursor, more: cursor < deps.store.lastSeq() });
}

async function fromPostgres(
  db: Db,
  roomId: string,
  after: number,
  before: number,
  limit: number,
): Promise<MessageView[]> {
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.roomId, roomId), gt(messages.seq, after), lt(messages.seq, before)))
    .orderBy(asc(messages.seq))
    .limit(limit);
  return rows.map(toMessageView);
}
