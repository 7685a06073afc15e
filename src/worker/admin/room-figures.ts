/** Live figures from room objects, gathered with bounded fan-out and a deadline per room. */
import { desc, gt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { rooms } from "../../db/schema";
import { mapBounded } from "../../lib/bounded";
import type { RoomStats } from "../../protocol/room-rpc";
import { roomStub } from "../rooms";
import type { Bindings } from "../types";

const PER_ROOM_TIMEOUT_MS = 2000;
/** Rooms asked for live figures by /stats and /metrics: the most recently active, so a call stays bounded. */
export const STATS_ROOMS = 200;

/** Rooms with a message in the last 24 h, most recent first; one more than STATS_ROOMS to detect truncation. */
export function activeRoomIds(db: Db) {
  return db
    .select({ id: rooms.id })
    .from(rooms)
    .where(gt(rooms.lastMessageAt, sql`now() - interval '24 hours'`))
    .orderBy(desc(rooms.lastMessageAt))
    .limit(STATS_ROOMS + 1);
}
const FAN_OUT = 10;

export async function roomFigures(env: Bindings, roomId: string): Promise<RoomStats | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), PER_ROOM_TIMEOUT_MS);
  });
  try {
    return await Promise.race([roomStub(env, roomId).stats(), timeout]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

export interface FleetFigures {
  sockets: number;
  outboxDepth: number;
  oldestOutboxAt: number | null;
  unreachable: number;
}

/** Sums over the given rooms; rooms that do not answer in time are counted as unreachable. */
export async function fleetFigures(env: Bindings, roomIds: string[]): Promise<FleetFigures> {
  const figures = await mapBounded(roomIds, FAN_OUT, (id) => roomFigures(env, id));
  const oldest = figures.map((f) => f?.outbox.oldestAt ?? null).filter((t): t is number => t !== null);
  return {
    sockets: figures.reduce((n, f) => n + (f?.sockets ?? 0), 0),
    outboxDepth: figures.reduce((n, f) => n + (f?.outbox.depth ?? 0), 0),
    oldestOutboxAt: oldest.length ? Math.min(...oldest) : null,
    unreachable: figures.filter((f) => f === null).length,
  };
}
