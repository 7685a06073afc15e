/**
 * Integration: REST history carries the whole state of each message (reactions with the caller's own,
 * replies, pin, kind, system and custom data, edits and tombstones) and the room version it reflects, read
 * in one Postgres snapshot; the room endpoint carries every member's read mark and the same version.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Pool } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { useLocalNeonProxy } from "../../src/db/local-proxy";
import { messages, rooms } from "../../src/db/schema";
import { historyPage, pinsReply, searchReply, threadReply } from "../../src/protocol/responses/messages";
import { roomDetailReply, roomReply } from "../../src/protocol/responses/rooms";
import { app } from "../../src/worker/app";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

type State = {
  seq: number;
  body: string | null;
  kind: string;
  reactions: { emoji: string; count: number; mine: boolean }[];
  replyCount: number;
  lastReplyAt: string | null;
  pinned: boolean;
  editedAt: string | null;
  deletedAt: string | null;
  system?: unknown;
  custom?: unknown;
};

const bySeq = (list: State[]) => new Map(list.map((m) => [m.seq, m]));

async function ok(method: string, path: string, token: string, body?: unknown, status = 204) {
  const res = await api(method, path, token, body);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.json)}`).toBe(status);
  return res.json;
}

/** Three members; ana's message 1 has two replies (one deleted later), reactions from ana and bob, a pin. */
async function busyRoom() {
  const ana = await createUser("ana");
  const bob = await createUser("bob");
  const cy = await createUser("cy");
  const room = await createRoom(ana.id, [bob.id, cy.id]);
  const path = `/api/rooms/${room.id}/messages`;
  await ok("POST", path, ana.token, { clientMsgId: "a1", body: "lunch at noon?" }, 201);
  await ok("POST", path, bob.token, { clientMsgId: "b1", body: "yes", replyTo: 1 }, 201);
  await ok("POST", path, cy.token, { clientMsgId: "c1", body: "me too", replyTo: 1 }, 201);
  await ok("POST", path, ana.token, { clientMsgId: "a2", body: "unrelated" }, 201);
  const m = (seq: number) => `/api/messages/${room.id}/${seq}`;
  await ok("POST", `${m(1)}/reactions`, ana.token, { emoji: "👍" });
  await ok("POST", `${m(1)}/reactions`, bob.token, { emoji: "👍" });
  // Reactions written through together share a timestamp; flushed apart, 👍 is first used before :tada:
  // (which sorts first as text), so the order below is by first use.
  await drainOutbox(room.id);
  await ok("POST", `${m(1)}/reactions`, bob.token, { emoji: ":tada:" });
  await ok("POST", `${m(4)}/reactions`, cy.token, { emoji: "👀" });
  await ok("POST", `${m(1)}/pin`, bob.token);
  await ok("PATCH", m(2), bob.token, { body: "yes!" }, 200);
  await ok("DELETE", m(3), cy.token);
  await drainOutbox(room.id);
  return { room, ana, bob, cy };
}

describe("history pages carry each message's whole state", () => {
  it("reactions per emoji with mine for each viewer, replies, pin, edits and tombstones", async () => {
    const { room, ana, bob, cy } = await busyRoom();
    const page = async (who: { token: string }) => {
      const { status, json } = await api("GET", `/api/rooms/${room.id}/messages`, who.token);
      expect(status).toBe(200);
      expect(historyPage.safeParse(json).success, JSON.stringify(json)).toBe(true);
      expect(json.source).toBe("postgres");
      return bySeq(json.messages as State[]);
    };
    const forAna = await page(ana);
    const forBob = await page(bob);
    const forCy = await page(cy);
    expect([...forAna.keys()]).toEqual([4, 3, 2, 1]);

    // Counts are everyone's; `mine` is the viewer's own; emoji in the order first used.
    expect(forAna.get(1)?.reactions).toEqual([
      { emoji: "👍", count: 2, mine: true },
      { emoji: ":tada:", count: 1, mine: false },
    ]);
    expect(forBob.get(1)?.reactions).toEqual([
      { emoji: "👍", count: 2, mine: true },
      { emoji: ":tada:", count: 1, mine: true },
    ]);
    expect(forCy.get(1)?.reactions).toEqual([
      { emoji: "👍", count: 2, mine: false },
      { emoji: ":tada:", count: 1, mine: false },
    ]);
    expect(forCy.get(4)?.reactions).toEqual([{ emoji: "👀", count: 1, mine: true }]);
    expect(forAna.get(4)?.reactions).toEqual([{ emoji: "👀", count: 1, mine: false }]);
    expect(forAna.get(2)?.reactions).toEqual([]);

    // Replies that are not deleted: message 3 was deleted, so 1 has one reply, sent as message 2.
    const [row2] = await db()
      .select()
      .from(messages)
      .where(eq(messages.roomId, room.id))
      .orderBy(messages.seq)
      .offset(1);
    expect(forAna.get(1)).toMatchObject({ replyCount: 1, lastReplyAt: row2?.createdAt.toISOString(), pinned: true });
    expect(forAna.get(4)).toMatchObject({ replyCount: 0, lastReplyAt: null, pinned: false });

    // Edited and deleted state as before, kind always present.
    expect(forAna.get(2)).toMatchObject({
      body: "yes!",
      editedAt: expect.any(String),
      deletedAt: null,
      kind: "regular",
    });
    expect(forAna.get(3)).toMatchObject({ body: null, deletedAt: expect.any(String), kind: "regular" });
  });

  it("the same state in the thread, pins and search replies", async () => {
    const { room, ana, bob } = await busyRoom();
    await db().update(rooms).set({ version: 31 }).where(eq(rooms.id, room.id));

    const thread = await api("GET", `/api/messages/${room.id}/1/thread`, bob.token);
    expect(threadReply.safeParse(thread.json).success, JSON.stringify(thread.json)).toBe(true);
    expect(thread.json.version).toBe(31);
    expect(thread.json.root).toMatchObject({ seq: 1, replyCount: 1, pinned: true });
    expect(thread.json.root.reactions).toEqual([
      { emoji: "👍", count: 2, mine: true },
      { emoji: ":tada:", count: 1, mine: true },
    ]);
    expect(thread.json.replies.map((r: State) => [r.seq, r.body, r.replyCount])).toEqual([
      [2, "yes!", 0],
      [3, null, 0],
    ]);

    const pins = await api("GET", `/api/rooms/${room.id}/pins`, ana.token);
    expect(pinsReply.safeParse(pins.json).success, JSON.stringify(pins.json)).toBe(true);
    expect(pins.json.version).toBe(31);
    expect(pins.json.pins).toHaveLength(1);
    expect(pins.json.pins[0]).toMatchObject({ pinnedBy: bob.id, message: { seq: 1, pinned: true, replyCount: 1 } });
    expect(pins.json.pins[0].message.reactions[0]).toEqual({ emoji: "👍", count: 2, mine: true });

    const found = await api("GET", `/api/search?q=lunch&roomId=${room.id}`, ana.token);
    expect(searchReply.safeParse(found.json).success, JSON.stringify(found.json)).toBe(true);
    expect(found.json.results.map((r: { message: State }) => r.message)).toMatchObject([
      {
        seq: 1,
        pinned: true,
        replyCount: 1,
        reactions: [
          { emoji: "👍", mine: true },
          { emoji: ":tada:", mine: false },
        ],
      },
    ]);
  });

  it("kind, system and custom data as stored; a tombstone loses its custom data", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    const row = (seq: number, extra: Partial<typeof messages.$inferInsert>) => ({
      roomId: room.id,
      seq,
      senderId: ana.id,
      clientMsgId: `m${seq}`,
      body: `body ${seq}`,
      ...extra,
    });
    await db()
      .insert(messages)
      .values([
        row(1, { custom: { card: { title: "Q3 plan", url: "https://example.test/q3" } } }),
        row(2, { kind: "system", body: "bob joined", system: { event: "joined", userId: bob.id } }),
        row(3, { custom: { secret: "gone with the text" }, deletedAt: new Date() }),
        row(4, {}),
      ]);
    const { json } = await api("GET", `/api/rooms/${room.id}/messages?after=0`, bob.token);
    expect(historyPage.safeParse(json).success, JSON.stringify(json)).toBe(true);
    const [one, two, three, four] = json.messages as State[];
    expect(one).toMatchObject({
      kind: "regular",
      custom: { card: { title: "Q3 plan", url: "https://example.test/q3" } },
    });
    expect(one).not.toHaveProperty("system");
    expect(two).toMatchObject({ kind: "system", body: "bob joined", system: { event: "joined", userId: bob.id } });
    expect(two).not.toHaveProperty("custom");
    expect(three).toMatchObject({ kind: "regular", body: null });
    expect(three).not.toHaveProperty("custom");
    expect(four).toMatchObject({ kind: "regular", reactions: [], replyCount: 0, lastReplyAt: null, pinned: false });
    expect(four).not.toHaveProperty("custom");
  });
});

describe("the version a page reflects", () => {
  it("is rooms.version, and the page and the version come from one snapshot", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    await db()
      .insert(messages)
      .values(
        [1, 2].map((seq) => ({ roomId: room.id, seq, senderId: ana.id, clientMsgId: `m${seq}`, body: `${seq}` })),
      );
    await db().update(rooms).set({ version: 2, lastSeq: 2 }).where(eq(rooms.id, room.id));

    // The reader gets its own connection string, so its Postgres session can be told apart from others'.
    const readerName = `history-reader-${crypto.randomUUID().slice(0, 8)}`;
    const readerUrl = new URL(env.DATABASE_URL);
    readerUrl.searchParams.set("application_name", readerName);
    const read = async () => {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`http://edgechat.test/api/rooms/${room.id}/messages`, {
          headers: { authorization: `Bearer ${ana.token}` },
        }),
        { ...env, DATABASE_URL: readerUrl.toString() },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(200);
      return (await res.json()) as { version: number; messages: State[] };
    };
    expect((await read()).version).toBe(2);

    // A write-through in flight: it holds `pins` (which the page's statement reads, the version's does
    // not), so the reader reads the version, then waits; the write commits message 3 with version 3; then
    // the reader's page statement runs. One snapshot means it still sees version 2's messages only.
    useLocalNeonProxy(env.NEON_LOCAL_PROXY);
    const pool = new Pool({ connectionString: env.DATABASE_URL });
    pool.on("error", () => {});
    const writer = await pool.connect();
    try {
      await writer.query("begin");
      await writer.query("lock table pins in access exclusive mode");
      const reading = read();
      await untilWaitingOnLock(writer, readerName);
      await writer.query(
        "insert into messages (room_id, seq, sender_id, client_msg_id, body) values ($1, 3, $2, 'm3', '3')",
        [room.id, ana.id],
      );
      await writer.query("update rooms set version = greatest(version, 3), last_seq = 3 where id = $1", [room.id]);
      await writer.query("commit");
      const page = await reading;
      expect([page.version, page.messages.map((m) => m.seq)]).toEqual([2, [2, 1]]);
    } finally {
      await writer.query("rollback").catch(() => {});
      writer.release();
      await pool.end();
    }
    const after = await read();
    expect([after.version, after.messages.map((m) => m.seq)]).toEqual([3, [3, 2, 1]]);
  });
});

/** Waits until the named session is blocked on a lock (the page statement behind the writer's lock). */
async function untilWaitingOnLock(client: { query: Pool["query"] }, applicationName: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await client.query(
      "select count(*)::int as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
      [applicationName],
    );
    if ((rows[0] as { n: number }).n > 0) return;
    if (Date.now() > deadline) throw new Error(`${applicationName} never waited on the lock`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("GET /api/rooms/:id", () => {
  it("carries every member's read mark, the version and custom data, read together", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const cy = await createUser("cy");
    const room = await createRoom(ana.id, [bob.id, cy.id]);
    for (const [who, id] of [
      [ana, "a1"],
      [bob, "b1"],
      [ana, "a2"],
    ] as const) {
      await ok("POST", `/api/rooms/${room.id}/messages`, who.token, { clientMsgId: id, body: id }, 201);
    }
    await ok("POST", `/api/rooms/${room.id}/read`, bob.token, { seq: 3 });
    await ok("POST", `/api/rooms/${room.id}/read`, ana.token, { seq: 2 });
    await drainOutbox(room.id);
    await db().update(rooms).set({ version: 19 }).where(eq(rooms.id, room.id));

    const { status, json } = await api("GET", `/api/rooms/${room.id}`, cy.token);
    expect(status).toBe(200);
    expect(roomDetailReply.safeParse(json).success, JSON.stringify(json)).toBe(true);
    expect(json.room).toMatchObject({ id: room.id, memberCount: 3, version: 19, custom: null, role: "member" });
    // Every member, in the order they joined; cy has read nothing.
    expect(new Map(json.room.readMarks.map((m: { userId: string; seq: number }) => [m.userId, m.seq]))).toEqual(
      new Map([
        [ana.id, 2],
        [bob.id, 3],
        [cy.id, 0],
      ]),
    );
    expect(json.room.readMarks).toHaveLength(3);
  });

  it("custom data: set when creating, replaced and cleared by PATCH, shown wherever the room is", async () => {
    const ana = await createUser("ana");
    const created = await api("POST", "/api/rooms", ana.token, { name: "ops", custom: { color: "teal" } });
    expect(created.status).toBe(201);
    expect(roomReply.safeParse(created.json).success).toBe(true);
    expect(created.json.room.custom).toEqual({ color: "teal" });
    const id = created.json.room.id as string;
    const listed = async () =>
      (await api("GET", "/api/rooms", ana.token)).json.rooms.find((r: { id: string }) => r.id === id).custom;
    expect(await listed()).toEqual({ color: "teal" });

    const patched = await api("PATCH", `/api/rooms/${id}`, ana.token, { custom: { color: "red", tier: 2 } });
    expect(patched.status).toBe(200);
    expect(patched.json.room.custom).toEqual({ color: "red", tier: 2 });
    expect((await api("GET", `/api/rooms/${id}`, ana.token)).json.room.custom).toEqual({ color: "red", tier: 2 });
    // A PATCH without custom leaves it alone; null clears it.
    expect((await api("PATCH", `/api/rooms/${id}`, ana.token, { topic: "incidents" })).json.room.custom).toEqual({
      color: "red",
      tier: 2,
    });
    expect((await api("PATCH", `/api/rooms/${id}`, ana.token, { custom: null })).json.room.custom).toBeNull();
    expect(await listed()).toBeNull();

    for (const custom of [["not", "an object"], "text", { big: "x".repeat(2100) }]) {
      const refused = await api("PATCH", `/api/rooms/${id}`, ana.token, { custom });
      expect(refused.status, JSON.stringify(custom).slice(0, 40)).toBe(400);
      expect(refused.json.error.code).toBe("validation_failed");
    }
    expect((await api("POST", "/api/rooms", ana.token, { name: "x", custom: { big: "x".repeat(2100) } })).status).toBe(
      400,
    );
  });
});
