/** Reactions and pins go through the room like every change: idempotent, broadcast, written through. */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messageReactions } from "../../src/db/schema";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

describe("reactions", () => {
  it("adds and removes a reaction once, over WebSocket and REST, and writes it through", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "m1", body: "ship it?" });
    const a = await pool.connect(room.id, ana.token);
    const b = await pool.connect(room.id, bob.token);
    await a.next("welcome");
    await b.next("welcome");
    b.send({ type: "react", seq: 1, emoji: "👍", on: true });
    expect(await a.next("reaction")).toEqual({ type: "reaction", seq: 1, userId: bob.id, emoji: "👍", on: true, v: 2 });
    // The same reaction again changes nothing and broadcasts nothing.
    expect((await api("POST", `/api/messages/${room.id}/1/reactions`, bob.token, { emoji: "👍" })).status).toBe(204);
    expect((await api("POST", `/api/messages/${room.id}/1/reactions`, ana.token, { emoji: ":tada:" })).status).toBe(
      204,
    );
    expect(await b.next("reaction")).toMatchObject({ userId: bob.id, emoji: "👍" }); // bob's own, echoed once
    expect(await b.next("reaction")).toMatchObject({ userId: ana.id, emoji: ":tada:", on: true });
    // The repeated 👍 was not broadcast again: the next reaction ana sees is her own :tada:.
    expect(await a.next("reaction")).toMatchObject({ userId: ana.id, emoji: ":tada:" });
    await drainOutbox(room.id);
    const stored = await db()
      .select({ userId: messageReactions.userId, emoji: messageReactions.emoji })
      .from(messageReactions)
      .where(and(eq(messageReactions.roomId, room.id), eq(messageReactions.seq, 1)));
    expect(stored.sort((x, y) => x.emoji.localeCompare(y.emoji))).toEqual([
      { userId: ana.id, emoji: ":tada:" },
      { userId: bob.id, emoji: "👍" },
    ]);
    expect(
      (await api("DELETE", `/api/messages/${room.id}/1/reactions/${encodeURIComponent("👍")}`, bob.token)).status,
    ).toBe(204);
    expect(await a.next("reaction")).toMatchObject({ userId: bob.id, emoji: "👍", on: false });
    await drainOutbox(room.id);
    expect(
      await db()
        .select()
        .from(messageReactions)
        .where(and(eq(messageReactions.roomId, room.id), eq(messageReactions.userId, bob.id))),
    ).toEqual([]);
  });

  it("refuses bad emoji and unknown messages", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "m1", body: "x" });
    expect((await api("POST", `/api/messages/${room.id}/1/reactions`, ana.token, { emoji: "two words" })).status).toBe(
      400,
    );
    expect(
      (await api("POST", `/api/messages/${room.id}/1/reactions`, ana.token, { emoji: "x".repeat(33) })).status,
    ).toBe(400);
    expect((await api("POST", `/api/messages/${room.id}/9/reactions`, ana.token, { emoji: "👍" })).status).toBe(404);
  });
});

describe("pins", () => {
  it("lets members pin, lists pins, and lets only the pinner or an admin unpin", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const cyd = await createUser("cyd");
    const room = await createRoom(ana.id, [bob.id, cyd.id]);
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "m1", body: "the plan" });
    const socket = await pool.connect(room.id, ana.token);
    await socket.next("welcome");
    expect((await api("POST", `/api/messages/${room.id}/1/pin`, bob.token)).status).toBe(204);
    expect(await socket.next("pinned")).toEqual({
      type: "pinned",
      seq: 1,
      userId: bob.id,
      on: true,
      v: expect.any(Number),
    });
    await drainOutbox(room.id);
    const { json } = await api("GET", `/api/rooms/${room.id}/pins`, cyd.token);
    expect(json.pins).toEqual([
      {
        message: expect.objectContaining({ seq: 1, body: "the plan" }),
        pinnedBy: bob.id,
        pinnedAt: expect.any(String),
      },
    ]);
    expect((await api("DELETE", `/api/messages/${room.id}/1/pin`, cyd.token)).status).toBe(403);
    expect((await api("DELETE", `/api/messages/${room.id}/1/pin`, ana.token)).status).toBe(204);
    await drainOutbox(room.id);
    expect((await api("GET", `/api/rooms/${room.id}/pins`, cyd.token)).json.pins).toEqual([]);
  });
});
