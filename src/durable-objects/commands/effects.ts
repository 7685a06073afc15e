/**
 * A command decides; the room applies. Commands run inside the room's SQLite transaction and return
 * what they decided plus what must follow once it has committed, so the "commit, then broadcast, then
 * refresh the buffer, then write through" sequence lives in one place (RoomEffects) instead of six.
 */
import type { MessageView, ServerFrame } from "../../protocol/frames";
import type { Actor } from "../../protocol/identity";
import type { RoomSettings } from "../room-settings";
import type { RoomStore } from "../room-store";

export interface Effects {
  /** Frames for every socket of the room, in this order. */
  broadcast: ServerFrame[];
  /** Messages whose copy in the Redis recent buffer must be refreshed. */
  buffer: MessageView[];
  /** The command added outbox rows: write them through to Postgres. */
  outbox: boolean;
  /** Metric counters to bump by one. */
  counters: string[];
  /** Who blocks whom changed: the sockets' view of it must be read again. */
  blocksChanged: boolean;
}

export interface Decision<R> {
  result: R;
  effects: Effects;
}

export interface CommandContext {
  store: RoomStore;
  settings: RoomSettings;
  roomId: string;
  actor: Actor;
  now: number;
}

export function effects(patch: Partial<Effects> = {}): Effects {
  return { broadcast: [], buffer: [], outbox: false, counters: [], blocksChanged: false, ...patch };
}

export function decided<R>(result: R, patch?: Partial<Effects>): Decision<R> {
  return { result, effects: effects(patch) };
}

export function isModerator(actor: Actor): boolean {
  return actor.role === "owner" || actor.role === "admin";
}

/** A muted member may read (and move their read mark), nothing else. */
export function refusedWhileMuted<R>(ctx: CommandContext): Decision<R> | null {
  if (!ctx.store.isMuted(ctx.actor.userId, ctx.now)) return null;
  return decided({
    status: "rejected",
    code: "muted",
    message: "you are muted in this room",
  } as R);
}
