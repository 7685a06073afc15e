import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { ChatRoom } from "../../src/durable-objects/chat-room";
import { createRoom, createUser } from "./fixtures";
import type { TestSocket } from "./sockets";

export type TestUser = Awaited<ReturnType<typeof createUser>>;

export const stubFor = (roomId: string) => env.ROOMS.get(env.ROOMS.idFromName(roomId)) as DurableObjectStub<ChatRoom>;

/** A group room with `n` members; the first is its owner. */
export async function roomWith(n: number) {
  const users = await Promise.all(Array.from({ length: n }, (_, i) => createUser(`u${i}`)));
  const [owner, ...rest] = users;
  if (!owner) throw new Error("need one user");
  const room = await createRoom(
    owner.id,
    rest.map((u) => u.id),
  );
  return { room, users: users as [TestUser, ...TestUser[]] };
}

export async function sendAndAck(socket: TestSocket, clientMsgId: string, body = `body of ${clientMsgId}`) {
  socket.send({ type: "send", clientMsgId, body });
  const ack = await socket.next("ack");
  expect(ack.clientMsgId).toBe(clientMsgId);
  return ack.seq as number;
}
