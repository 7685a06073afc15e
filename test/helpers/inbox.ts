/** Inbox sockets for tests: open one as a device would, and wait for the inbox to be live with its rooms. */
import { env, exports } from "cloudflare:workers";
import type { UserInbox } from "../../src/durable-objects/user-inbox";
import type { InboxStats } from "../../src/protocol/inbox";
import type { Frame, SocketPool, TestSocket } from "./sockets";

export const inboxFor = (userId: string) =>
  env.INBOXES.get(env.INBOXES.idFromName(userId)) as DurableObjectStub<UserInbox>;

/** The upgrade as a device sends it; answers whatever the worker answers (101 or a refusal). */
export function inboxUpgrade(headers: Record<string, string>, query = ""): Promise<Response> {
  return exports.default.fetch(`http://edgechat.test/api/me/ws${query}`, {
    headers: { Upgrade: "websocket", ...headers },
  });
}

/** A device of the user, open (its first frame, snapshot or catch-up, not yet taken). */
export async function openInbox(pool: SocketPool, token: string, query = ""): Promise<TestSocket> {
  const res = await inboxUpgrade({ Authorization: `Bearer ${token}` }, query);
  if (res.status !== 101 || !res.webSocket) throw new Error(`expected 101, got ${res.status}: ${await res.text()}`);
  return pool.adopt(res.webSocket);
}

/** Polls the inbox's figures until `test` holds. */
export async function inboxUntil(userId: string, test: (s: InboxStats) => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await inboxFor(userId).stats();
    if (test(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`inbox never got there: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A device past its snapshot, with the inbox registered with every room of the user. */
export async function liveInbox(pool: SocketPool, user: { id: string; token: string }) {
  const socket = await openInbox(pool, user.token);
  const snapshot = await socket.next("snapshot");
  await inboxUntil(user.id, (s) => s.session === "on" && s.watching === s.rooms);
  return { socket, snapshot };
}

type Room = { id: string; unread: number; lastSeq: number; [k: string]: unknown };

/** Waits for a `room` delta about `roomId` that passes `test`; takes that frame (only) and answers its entry. */
export async function nextRoom(socket: TestSocket, roomId: string, test: (r: Room) => boolean = () => true, ms = 3000) {
  const i = await socket.until(
    (f: Frame) => f.type === "room" && (f.room as Room).id === roomId && test(f.room as Room),
    ms,
  );
  const [frame] = socket.frames.splice(i, 1) as [Frame];
  return frame.room as Room;
}
