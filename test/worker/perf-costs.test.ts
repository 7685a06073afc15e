/**
 * Integration (real room): the SQLite rows a room reads and writes per accepted message, the figure
 * bench/scenarios/costs.ts prices (Durable Object storage bills rows written). Counted by wrapping the
 * room's own SQL handle, in steady state (ring and change log full, so every message also trims), over a
 * run of sends whose outbox is drained (its rows deleted). A guard too: a change that makes a message
 * write more rows fails here and must update ROWS_WRITTEN_PER_MESSAGE.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROWS_READ_PER_MESSAGE, ROWS_WRITTEN_PER_MESSAGE } from "../../bench/lib/prices";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

describe("what a message costs the room's storage", () => {
  it(`writes ${ROWS_WRITTEN_PER_MESSAGE} SQLite rows (and reads at most ${ROWS_READ_PER_MESSAGE}) per message in steady state`, async () => {
    const { room, users } = await roomWith(2);
    const stub = stubFor(room.id);
    const socket = await pool.join(room.id, users[0].token);
    const counted = { read: 0, written: 0 };
    await runInDurableObject(stub, async (instance: ChatRoom, state) => {
      // Small ring and log, so every message trims as a long-lived room's do; the throttle lifted.
      Object.assign(instance, {
        env: { ...env, ROOM_RING_SIZE: "5", ROOM_CHANGE_LOG_SIZE: "5", THROTTLE_MESSAGES: "1000000" },
      });
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      Object.assign(sql, {
        exec: (query: string, ...bindings: unknown[]) => {
          const cursor = exec(query, ...(bindings as SqlStorageValue[]));
          const rows = cursor.toArray();
          counted.read += cursor.rowsRead;
          counted.written += cursor.rowsWritten;
          // Hand back a cursor over what was already read (the callers iterate, or call one()/toArray()).
          return Object.assign(rows[Symbol.iterator](), {
            toArray: () => rows,
            one: () => {
              if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
              return rows[0];
            },
            next: (() => {
              let i = 0;
              return () => (i < rows.length ? { value: rows[i++], done: false } : { value: undefined, done: true });
            })(),
            columnNames: cursor.columnNames,
            rowsRead: cursor.rowsRead,
            rowsWritten: cursor.rowsWritten,
            raw: () => rows.map((r) => Object.values(r as object))[Symbol.iterator](),
          });
        },
      });
    });
    // Fill the ring and the log first, then count a run of messages with the outbox drained.
    for (let i = 0; i < 10; i++) await sendAndAck(socket, `warm-${i}`);
    await stub.drainOutbox();
    counted.read = 0;
    counted.written = 0;
    const n = 20;
    for (let i = 0; i < n; i++) await sendAndAck(socket, `cost-${i}`);
    expect((await stub.drainOutbox()).depth).toBe(0);
    const perMessage = counted.written / n;
    console.log(`rows per message: ${perMessage} written, ${counted.read / n} read`);
    expect(perMessage).toBeLessThanOrEqual(ROWS_WRITTEN_PER_MESSAGE);
    expect(perMessage).toBeGreaterThan(ROWS_WRITTEN_PER_MESSAGE - 2);
    expect(counted.read / n).toBeLessThanOrEqual(ROWS_READ_PER_MESSAGE);
  });
});
