/** Postgres through drizzle-orm/neon-http, the path every worker route and the room object use. */
import { NeonDbError } from "@neondatabase/serverless";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages, roomMembers, rooms, users } from "../../src/db/schema";
import { createRoom, createUser, db } from "../helpers/fixtures";

/** drizzle wraps driver errors; the Postgres fields live on the cause. */
function pgError(err: unknown): NeonDbError {
  const cause = (err as { cause?: unknown }).cause ?? err;
  expect(cause).toBeInstanceOf(NeonDbError);
  return cause as NeonDbError;
}

describe("schema and constraints", () => {
  it("writes and reads users, rooms, members and messages", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    await db().insert(messages).values({ roomId: room.id, seq: 1, senderId: ana.id, clientMsgId: "m1", body: "hi" });
    const rows = await db()
      .select({ body: messages.body, sender: users.displayName, role: roomMembers.role })
      .from(messages)
      .innerJoin(users, eq(users.id, messages.senderId))
      .innerJoin(roomMembers, and(eq(roomMembers.roomId, messages.roomId), eq(roomMembers.userId, users.id)))
      .where(eq(messages.roomId, room.id));
    expect(rows).toEqual([{ body: "hi", sender: "ana", role: "owner" }]);
  });

  it("treats emails as unique regardless of case", async () => {
    const email = `Case-${crypto.randomUUID()}@Example.test`;
    await db().insert(users).values({ email, displayName: "a", passwordHash: "x" });
    const err = await db()
      .insert(users)
      .values({ email: email.toLowerCase(), displayName: "b", passwordHash: "x" })
      .catch((e: unknown) => e);
    expect(pgError(err)).toMatchObject({ code: "23505", constraint: "users_email_lower_key" });
  });

  it("makes (room_id, seq) unique, and an upsert on it idempotent", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const row = { roomId: room.id, seq: 1, senderId: ana.id, clientMsgId: "a", body: "first" };
    await db().insert(messages).values(row);
    const dup = await db()
      .insert(messages)
      .values({ ...row, clientMsgId: "b" })
      .catch((e: unknown) => e);
    expect(pgError(dup)).toMatchObject({ code: "23505", constraint: "messages_room_seq_pk" });
    const again = await db()
      .insert(messages)
      .values([row, { ...row, seq: 2, clientMsgId: "c" }])
      .onConflictDoNothing({
        target: [messages.roomId, messages.seq],
      })
      .returning({ seq: messages.seq });
    expect(again).toEqual([{ seq: 2 }]);
  });

  it("makes (room_id, sender_id, client_msg_id) unique", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    await db().insert(messages).values({ roomId: room.id, seq: 1, senderId: ana.id, clientMsgId: "same", body: "x" });
    const err = await db()
      .insert(messages)
      .values({ roomId: room.id, seq: 2, senderId: ana.id, clientMsgId: "same", body: "x" })
      .catch((e: unknown) => e);
    expect(pgError(err)).toMatchObject({ code: "23505", constraint: "messages_room_sender_client_msg_key" });
  });

  it("allows one direct room per pair and rejects inconsistent kinds", async () => {
    const key = `${crypto.randomUUID()}:${crypto.randomUUID()}`;
    await db().insert(rooms).values({ kind: "direct", directKey: key });
    expect(
      pgError(
        await db()
          .insert(rooms)
          .values({ kind: "direct", directKey: key })
          .catch((e: unknown) => e),
      ).code,
    ).toBe("23505");
    expect(
      pgError(
        await db()
          .insert(rooms)
          .values({ kind: "group", directKey: "x" })
          .catch((e: unknown) => e),
      ).code,
    ).toBe("23514");
    expect(
      pgError(
        await db()
          .insert(rooms)
          .values({ kind: "direct" })
          .catch((e: unknown) => e),
      ).code,
    ).toBe("23514");
  });

  it("rejects unknown roles and non-positive seqs", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const badRole = await db()
      .execute(sql`update room_members set role = 'god' where room_id = ${room.id}`)
      .catch((e: unknown) => e);
    expect(pgError(badRole).code).toBe("23514");
    const badSeq = await db()
      .insert(messages)
      .values({ roomId: room.id, seq: 0, senderId: ana.id, clientMsgId: "z", body: "x" })
      .catch((e: unknown) => e);
    expect(pgError(badSeq).code).toBe("23514");
  });

  it("runs a drizzle batch as one transaction", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const failing = await db()
      .batch([
        db().insert(messages).values({ roomId: room.id, seq: 1, senderId: ana.id, clientMsgId: "t1", body: "x" }),
        db().insert(messages).values({ roomId: room.id, seq: 1, senderId: ana.id, clientMsgId: "t2", body: "x" }),
      ])
      .catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(Error);
    expect(await db().select().from(messages).where(eq(messages.roomId, room.id))).toEqual([]);
  });
});
