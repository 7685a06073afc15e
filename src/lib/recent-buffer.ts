import type { Redis } from "@upstash/redis/cloudflare";
import type { MessageView } from "../protocol/frames";

/** What the buffer holds per message: the client view, enough to serve a history page without Postgres. */
export type BufferedMessage = MessageView;

export interface BufferLimits {
  /** Most recent messages kept per room. */
  size: number;
  ttlSeconds: number;
}

/**
 * The room's recent messages in Redis: a sorted set scored by seq, capped and expiring. A cache only:
 * Postgres is the source of truth, so a failed write here loses nothing.
 */
export class RecentBuffer {
  readonly key: string;
  private readonly redis: Redis;
  private readonly limits: BufferLimits;

  constructor(redis: Redis, roomId: string, limits: BufferLimits) {
    this.redis = redis;
    this.key = `room:${roomId}:recent`;
    this.limits = limits;
  }

  /** One round trip: replace these seqs (new, edited or deleted), trim to the cap, refresh the TTL. */
  async upsert(messages: BufferedMessage[]): Promise<void> {
    const [first, ...rest] = messages.map((m) => ({ score: m.seq, member: JSON.stringify(m) }));
    if (!first) return;
    const p = this.redis.pipeline();
    for (const m of messages) p.zremrangebyscore(this.key, m.seq, m.seq);
    p.zadd(this.key, first, ...rest);
    p.zremrangebyrank(this.key, 0, -(this.limits.size + 1));
    p.expire(this.key, this.limits.ttlSeconds);
    await p.exec();
  }

  /** Messages with fromSeq <= seq <= toSeq, oldest first. */
  async range(fromSeq: number, toSeq: number): Promise<BufferedMessage[]> {
    const members = await this.redis.zrange<BufferedMessage[]>(this.key, fromSeq, toSeq, { byScore: true });
    return members.map((m) => (typeof m === "string" ? (JSON.parse(m) as BufferedMessage) : m));
  }

  /**
   * Adds the messages whose seq the buffer lacks, leaving present ones alone: a page read from Postgres
   * may be older than what the room already wrote here (an edit not yet flushed), and must not replace it.
   */
  async fillMissing(messages: BufferedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const seqs = messages.map((m) => m.seq);
    const present = new Set((await this.range(Math.min(...seqs), Math.max(...seqs))).map((m) => m.seq));
    await this.upsert(messages.filter((m) => !present.has(m.seq)));
  }

  /** Every message with lo <= seq <= hi, oldest first, or null unless the buffer holds all of them (no gaps). */
  async window(lo: number, hi: number): Promise<BufferedMessage[] | null> {
    if (hi < lo) return [];
    const found = await this.range(lo, hi);
    return found.length === hi - lo + 1 ? found : null;
  }

  /** Lowest and highest seq held, or null when empty (expired, evicted or never filled). */
  async bounds(): Promise<{ min: number; max: number; count: number } | null> {
    const p = this.redis.pipeline();
    p.zrange(this.key, 0, 0, { withScores: true });
    p.zrange(this.key, -1, -1, { withScores: true });
    p.zcard(this.key);
    const [low, high, count] = (await p.exec()) as [unknown[], unknown[], number];
    if (!count) return null;
    return { min: Number(low[1]), max: Number(high[1]), count };
  }
}
