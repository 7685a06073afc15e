import { inc } from "../lib/metrics";
import type { BufferWriter } from "./buffer-writer";
import type { Effects } from "./commands";
import type { OutboxFlusher } from "./outbox-flusher";
import type { SocketRegistry } from "./sockets";

export interface RoomEffectsDeps {
  sockets: SocketRegistry;
  buffer: BufferWriter;
  outbox: OutboxFlusher;
  /** Who blocks whom changed: per-viewer hiding must read it again. */
  blocksChanged: () => void;
  /** Inbox hook (issue 25): the committed frames, so watching inboxes get a coalesced update. */
  watchers?: { changed(frames: Effects["broadcast"]): void };
}

/**
 * Where a committed command's consequences happen, in one order for every command: counters, frames to
 * every socket, the Redis buffer (best effort), then the write-through to Postgres.
 */
export class RoomEffects {
  private readonly deps: RoomEffectsDeps;

  constructor(deps: RoomEffectsDeps) {
    this.deps = deps;
  }

  apply(effects: Effects): void {
    for (const name of effects.counters) inc(name);
    if (effects.blocksChanged) this.deps.blocksChanged();
    for (const frame of effects.broadcast) this.deps.sockets.broadcast(frame);
    this.deps.watchers?.changed(effects.broadcast);
    this.deps.buffer.queue(effects.buffer);
    if (effects.outbox) void this.deps.outbox.flushSoon();
  }
}
