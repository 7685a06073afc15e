/**
 * The checker: every acked message must be in Postgres, in REST history and in every client's view, at
 * the seq its ack named; no clientMsgId or seq twice anywhere; every room's seqs 1..last with no gap, in
 * order. Unacked sends may or may not exist, but never twice.
 */
import pg from "pg";
import type { EdgechatClient } from "../../src/client/index.ts";
import type { Seen, SentRecord } from "./clients.ts";

export interface Source {
  name: string;
  /** Per room, messages in the order the source gave them. */
  rooms: Seen[][];
}

export interface Counts {
  lost: number;
  duplicated: number;
  outOfOrder: number;
  gaps: number;
  /** A seq holding another message than the one its ack named. */
  mismatched: number;
}

export async function postgresSource(url: string, rooms: string[]): Promise<Source> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: Seen[][] = [];
    for (const id of rooms) {
      const { rows } = await client.query<{ seq: string; client_msg_id: string }>(
        "select seq, client_msg_id from messages where room_id = $1 order by seq",
        [id],
      );
      out.push(rows.map((r) => ({ seq: Number(r.seq), clientMsgId: r.client_msg_id })));
    }
    return { name: "Postgres", rooms: out };
  } finally {
    await client.end();
  }
}

/** Forward pages of GET /api/rooms/:id/messages from seq 0, as a client catching up would read them. */
export async function restSource(api: EdgechatClient, rooms: string[]): Promise<Source> {
  const out: Seen[][] = [];
  for (const id of rooms) {
    const seen: Seen[] = [];
    let after = 0;
    for (let page = 0; page < 10_000; page++) {
      const { messages } = await api.messages.history(id, { after, limit: 100 });
      if (messages.length === 0) break;
      for (const m of messages) seen.push({ seq: m.seq, clientMsgId: m.clientMsgId });
      after = Math.max(after, ...messages.map((m) => m.seq));
    }
    out.push(seen);
  }
  return { name: "REST history", rooms: out };
}

const zero = (): Counts => ({ lost: 0, duplicated: 0, outOfOrder: 0, gaps: 0, mismatched: 0 });

export function add(a: Counts, b: Counts): Counts {
  return {
    lost: a.lost + b.lost,
    duplicated: a.duplicated + b.duplicated,
    outOfOrder: a.outOfOrder + b.outOfOrder,
    gaps: a.gaps + b.gaps,
    mismatched: a.mismatched + b.mismatched,
  };
}

/** Counts one room of one source against the acks for that room and against itself. */
export function checkRoom(list: Seen[], acked: SentRecord[], last: number): Counts {
  const c = zero();
  const bySeq = new Map<number, string>();
  const ids = new Set<string>();
  let prev = 0;
  for (const m of list) {
    if (bySeq.has(m.seq) || ids.has(m.clientMsgId)) c.duplicated++;
    if (m.seq <= prev) c.outOfOrder++;
    else if (m.seq !== prev + 1) c.gaps += m.seq - prev - 1;
    prev = Math.max(prev, m.seq);
    bySeq.set(m.seq, m.clientMsgId);
    ids.add(m.clientMsgId);
  }
  // A source that stops short of the room's last seq has a gap at its end.
  if (prev < last) c.gaps += last - prev;
  for (const rec of acked) {
    for (const seq of rec.ackSeqs) {
      const at = bySeq.get(seq);
      if (at === undefined) c.lost++;
      else if (at !== rec.id) c.mismatched++;
    }
  }
  return c;
}

/** Per room, the counts of one source (a list of messages per room). */
export function check(source: Seen[][], ledger: Map<string, SentRecord>, lastSeqs: number[]): Counts[] {
  const recs = [...ledger.values()];
  return lastSeqs.map((last, room) =>
    checkRoom(
      source[room] ?? [],
      recs.filter((r) => r.room === room),
      last,
    ),
  );
}

export const total = (xs: Counts[]): Counts => xs.reduce(add, zero());

/** Acks that named two different seqs for one clientMsgId. */
export function ackConflicts(ledger: Map<string, SentRecord>): number {
  let n = 0;
  for (const rec of ledger.values()) if (rec.ackSeqs.size > 1) n++;
  return n;
}
