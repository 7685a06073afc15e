import { describe, expect, it } from "vitest";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";

/** Integration: unread counts in the room list are arithmetic on seqs and never count my own messages. */
describe("unread counts", () => {
  it("count others' messages after my read mark, not mine", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    const say = (who: { token: string }, id: string) =>
      api("POST", `/api/rooms/${room.id}/messages`, who.token, { clientMsgId: id, body: id });
    await say(ana, "a1");
    await say(bob, "b1");
    await say(ana, "a2");
    await say(ana, "a3");
    await drainOutbox(room.id);
    const unread = async (who: { token: string }) =>
      (await api("GET", "/api/rooms", who.token)).json.rooms.find((r: { id: string }) => r.id === room.id).unread;
    expect(await unread(ana)).toBe(1);
    expect(await unread(bob)).toBe(3);
    expect((await api("POST", `/api/rooms/${room.id}/read`, bob.token, { seq: 2 })).status).toBe(204);
    await drainOutbox(room.id);
    expect(await unread(bob)).toBe(2);
    expect((await api("POST", `/api/rooms/${room.id}/read`, ana.token, { seq: 4 })).status).toBe(204);
    await drainOutbox(room.id);
    expect(await unread(ana)).toBe(0);
  });
});
