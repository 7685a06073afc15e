/**
 * Keeps the Redis recent buffer current after commits. One pipelined call at a time carries every
 * message changed meanwhile, so a busy room makes one Redis round trip per batch, not per message.
 * Redis is a cache: a failed write is logged and dropped (history then reads Postgres), never retried
 * into the send path.
 */
import { logJson } from "../lib/log";
import type { RecentBuffer } from "../lib/recent-buffer";
import type { MessageView } from "../protocol/frames";
import { FLUSH_LINGER_MS } from "./outbox-flusher";

export interface BufferWriterDeps {
  enabled: () => boolean;
  withBuffer: (fn: (buffer: RecentBuffer) => Promise<void>) => Promise<void>;
  roomId: () => string | null;
}

export class BufferWriter {
  private readonly deps: BufferWriterDeps;
  private pending = new Map<number, MessageView>();
  private writing = false;
  private lastWriteEndedAt = 0;

  constructor(deps: BufferWriterDeps) {
    this.deps = deps;
  }

  queue(messages: MessageView[]): void {
    if (messages.length === 0 || !this.deps.enabled()) return;
    for (const m of messages) this.pending.set(m.seq, m);
    void this.write();
  }

  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.size > 0) {
        // As the outbox does (FLUSH_LINGER_MS): a busy room's changes share one Redis call.
        const wait = this.lastWriteEndedAt + FLUSH_LINGER_MS - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const batch = [...this.pending.values()];
        this.pending.clear();
        await this.deps
          .withBuffer((buffer) => buffer.upsert(batch))
          .catch((err: Error) =>
            logJson("warn", {
              msg: "redis buffer write failed",
              roomId: this.deps.roomId(),
              messages: batch.length,
              error: err.message,
            }),
          );
        this.lastWriteEndedAt = Date.now();
      }
    } finally {
      this.writing = false;
    }
  }
}
