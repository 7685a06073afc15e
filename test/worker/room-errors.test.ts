import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

/** Integration: the room's one error path, through the worker, over real sockets. */
const pool = useSocketPool();

async function roomWithSocket() {
  const ana = await createUser("ana");
  const room = await createRoom(ana.id);
  const socket = await pool.connect(room.id, ana.token);
  await socket.next("welcome");
  return { ana, room, socket };
}

describe("the room's error path (integration)", () => {
  it("answers frames whose fields are objects with hostile toString/valueOf with an error frame, and stays up", async () => {
    const { socket } = await roomWithSocket();
    for (const frame of [
      '{"type":{"toString":1}}',
      '{"type":{"toString":null,"valueOf":null}}',
      '{"type":"send","clientMsgId":{"toString":1},"body":"x"}',
      '{"type":["send"]}',
      "[1,2]",
      "null",
      '"just a string"',
      '{"__proto__":{"type":"send"}}',
    ]) {
      socket.send(frame);
      const error = await socket.next("error");
      expect(error.code, frame).toMatch(/^(bad_frame|unknown_frame_type)$/);
      expect(typeof error.message).toBe("string");
    }
    socket.send({ type: "send", clientMsgId: "after", body: "still here" });
    expect(await socket.next("ack")).toMatchObject({ clientMsgId: "after", seq: 1 });
  });

  it("answers a send whose transaction throws with an internal error naming it, stores nothing, and goes on gapless", async () => {
    const { room, socket } = await roomWithSocket();
    const stub = stubFor(room.id);
    await runInDurableObject(stub, (instance: ChatRoom) => {
      const store = (instance as unknown as { store: { insertMessage: (...a: unknown[]) => unknown } }).store;
      const original = store.insertMessage.bind(store);
      let failures = 1;
      store.insertMessage = (...args: unknown[]) => {
        const made = original(...args);
        // Thrown after the rows were written: the transaction must roll them back.
        if (failures-- > 0) throw new Error("disk on fire");
        return made;
      };
    });
    socket.send({ type: "send", clientMsgId: "doomed", body: "lost?" });
    const error = await socket.next("error");
    expect(error).toMatchObject({ code: "internal", ref: "doomed" });
    expect(error.message).toMatch(/incident [0-9a-f]{8}/);
    expect((await stub.stats()).lastSeq).toBe(0);
    expect((await stub.stats()).outbox.depth).toBe(0);

    socket.send({ type: "send", clientMsgId: "doomed", body: "again" });
    expect(await socket.next("ack")).toMatchObject({ clientMsgId: "doomed", seq: 1 });
    expect(await socket.next("message")).toMatchObject({ seq: 1, body: "again" });
  });

  it("turns a throwing REST command into a 500 with the error shape, not a hung request", async () => {
    const { ana, room } = await roomWithSocket();
    const stub = stubFor(room.id);
    await runInDurableObject(stub, (instance: ChatRoom) => {
      const store = (instance as unknown as { store: { messageState: () => unknown } }).store;
      store.messageState = () => {
        throw new Error("index corrupt");
      };
    });
    const edit = await api("PATCH", `/api/messages/${room.id}/1`, ana.token, { body: "x" });
    expect(edit.status).toBe(500);
    expect(edit.json.error?.code).toBe("internal");
  });

  it("knows its own id from the id's name, before any caller has told it", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    expect((await stubFor(room.id).stats()).roomId).toBe(room.id);
  });
});
