/** Live figures from room objects, gathered with bounded fan-out and a deadline per room. */
import type { RoomStats } from "../../durable-objects/chat-room";
import { mapBounded } from "../../lib/bounded";
import { roomStub } from "../rooms";
import type { Bindings } from "../types";

const PER_ROOM_TIMEOUT_MS = 2000;
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

/** Sockets across the given rooms; rooms that do not answer in time are counted as unreachable. */
export async function liveSockets(env: Bindings, roomIds: string[]): Promise<{ sockets: number; unreachable: number }> {
  const figures = await mapBounded(roomIds, FAN_OUT, (id) => roomFigures(env, id));
  return {
    sockets: figures.reduce((n, f) => n + (f?.sockets ?? 0), 0),
    unreachable: figures.filter((f) => f === null).length,
  };
}
