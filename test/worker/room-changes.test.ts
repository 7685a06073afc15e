/** Edits, deletes and read receipts go through the room like sends: ordered, broadcast, written through. */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages, roomMembers } from "../../src/db/schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function pgMessage(roomId: string, seq: number) {
  const [row] = await db()
    .select()
    .from(messages)
    .where(and(eq(messages.roomId, roomId), eq(messages.seq, seq)));
  return row;
}

describe("edit", () => {
  it("lets the sender edit, tells everyone, and writes the new body through", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    const seq = await sendAndAck(a, "e1", "frist");
    a.send({ type: "edit", seq, body: "first" });
    const edited = await b.next("edited");
    expect(edited).toMatchObject({ type: "edited", seq, body: "first" });
    expect(Date.parse(edited.editedAt as string)).toBeGreaterThan(0);
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    expect(await pgMessage(room.id, seq)).toMatchObject({ body: "first", editedAt: expect.any(Date) });
    // A resume shows the edited text.
    b.frames.length = 0;
    b.send({ type: "resume", lastSeq: seq - 1 });
    expect(await b.next("message")).toMatchObject({ seq, body: "first" });
  });

  it("refuses edits by others, of unknown messages, and of deleted ones", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    const seq = await sendAndAck(a, "e2");
    b.send({ type: "edit", seq, body: "hijack" });
    expect(await b.next("error")).toMatchObject({ code: "forbidden", ref: `edit:${seq}` });
    a.send({ type: "edit", seq: 999, body: "x" });
    expect(await a.next("error")).toMatchObject({ code: "not_found" });
    a.send({ type: "delete", seq });
    await a.next("deleted");
    a.send({ type: "edit", seq, body: "too late" });
    expect(await a.next("error")).toMatchObject({ code: "conflict" });
    a.send({ type: "edit", seq, body: "" });
    expect(await a.next("error")).toMatchObject({ code: "bad_frame" });
  });
});

describe("delete", () => {
  it("tombstones the sender's message: the seq stays, the text goes, everywhere", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    const seq = await sendAndAck(a, "d1", "secret");
    a.send({ type: "delete", seq });
    expect(await b.next("deleted")).toMatchObject({ type: "deleted", seq });
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    expect(await pgMessage(room.id, seq)).toMatchObject({ body: "", deletedAt: expect.any(Date) });
    b.frames.length = 0;
    b.send({ type: "resume", lastSeq: 0 });
    expect(await b.next("message")).toMatchObject({ seq, body: null, deletedAt: expect.any(String) });
  });

  it("lets a room admin delete anyone's message, but not a plain member", async () => {
    const owner = await createUser("owner");
    const admin = await createUser("admin");
    const member = await createUser("member");
    const room = await createRoom(owner.id, [admin.id, member.id], [admin.id]);
    const o = await pool.join(room.id, owner.token);
    const ad = await pool.join(room.id, admin.token);
    const m = await pool.join(room.id, member.token);
    const first = await sendAndAck(o, "mod-1");
    m.send({ type: "delete", seq: first });
    expect(await m.next("error")).toMatchObject({ code: "forbidden" });
    ad.send({ type: "delete", seq: first });
    expect(await o.next("deleted")).toMatchObject({ seq: first });
  });
});

describe("read receipts", () => {
  it("broadcasts a receipt, only moves forward, and stores last_read_seq in Postgres", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    await sendAndAck(a, "rr1");
    const two = await sendAndAck(a, "rr2");
    b.send({ type: "read", seq: two });
    expect(await a.next("receipt")).toEqual({
      type: "receipt",
      userId: (users[1] as { id: string }).id,
      seq: two,
      v: expect.any(Number),
    });
    b.send({ type: "read", seq: 1 });
    b.send({ type: "read", seq: 99 });
    expect(await b.next("error")).toMatchObject({ code: "unprocessable", ref: "read:99" });
    expect(a.frames.filter((f) => f.type === "receipt")).toEqual([]);
    expect(await stubFor(room.id).drainOutbox()).toEqual({ depth: 0 });
    const [member] = await db()
      .select({ lastReadSeq: roomMembers.lastReadSeq })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, (users[1] as { id: string }).id)));
    expect(member?.lastReadSeq).toBe(two);
  });
});

describe("the RPC seam used by REST", () => {
  it("sends through the same path as WebSocket frames: seq, idempotency, fan-out", async () => {
    const { room, users } = await roomWith(2);
    const b = await pool.join(room.id, (users[1] as { token: string }).token);
    const stub = stubFor(room.id);
    const actor = { roomId: room.id, userId: users[0].id, role: "owner" as const };
    const first = await stub.command(actor, { type: "send", clientMsgId: "rest-1", body: "via REST" });
    expect(first).toMatchObject({ status: "accepted", message: { seq: 1, body: "via REST", senderId: users[0].id } });
    expect(await b.next("message")).toMatchObject({ seq: 1, clientMsgId: "rest-1" });
    expect(await stub.command(actor, { type: "send", clientMsgId: "rest-1", body: "again" })).toMatchObject({
      status: "duplicate",
      seq: 1,
      message: { body: "via REST" },
    });
    expect(await stub.command(actor, { type: "edit", seq: 1, body: "edited via REST" })).toEqual({ status: "ok" });
    expect(
      await stub.command(
        { ...actor, userId: (users[1] as { id: string }).id, role: "member" },
        { type: "read", seq: 1 },
      ),
    ).toEqual({
      status: "ok",
    });
    expect(
      await stub.command(
        { ...actor, userId: (users[1] as { id: string }).id, role: "member" },
        { type: "delete", seq: 1 },
      ),
    ).toMatchObject({
      status: "rejected",
      code: "forbidden",
    });
    expect(env.ROOMS).toBeDefined();
  });
});
