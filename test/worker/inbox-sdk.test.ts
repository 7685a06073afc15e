/**
 * `client.inbox()` against the real worker (issue 25): the kept state (rooms by activity, unread per room
 * and in total, notifications), typed events, and reconnecting by itself after a dropped network, catching
 * up from its number with nothing missed or applied twice.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EdgechatClient, type InboxConnection, type InboxState } from "../../src/client";
import { inboxUntil } from "../helpers/inbox";
import { type UpgradeSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

function newClient() {
  const sockets: UpgradeSocket[] = [];
  const client = new EdgechatClient({
    baseUrl: "http://edgechat.test",
    fetch: (input, init) => exports.default.fetch(input as string, init),
    webSocket: (url) => {
      const s = pool.sdkSocket(url);
      sockets.push(s);
      return s;
    },
  });
  return { client: pool.track(client), sockets };
}

async function signedUp(name: string) {
  const { client, sockets } = newClient();
  const user = await client.register({
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: "correct horse battery",
  });
  return { client, sockets, user };
}

/** Resolves once the inbox's kept state passes `test`. */
function until(inbox: InboxConnection, test: (s: InboxState) => boolean, ms = 5000): Promise<InboxState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`inbox state never got there: ${JSON.stringify(inbox.inboxState)}`)),
      ms,
    );
    const off = inbox.subscribe((s) => {
      if (s && test(s)) {
        clearTimeout(timer);
        queueMicrotask(() => off());
        resolve(s);
      }
    });
  });
}

describe("client.inbox()", () => {
  it("keeps the list sorted by activity with unread per room and in total, and emits typed events", async () => {
    const ana = await signedUp("ana");
    const ben = await signedUp("ben");
    const first = await ana.client.rooms.create({ name: "first", members: [ben.user.id] });
    const second = await ana.client.rooms.create({ name: "second", members: [ben.user.id] });
    const inbox = pool.track(ben.client.inbox({ minDelayMs: 20, maxDelayMs: 200 }));
    const events: string[] = [];
    inbox.on("room", (r) => events.push(`room:${r.name}:${r.unread}`));
    inbox.on("room.added", (r) => events.push(`added:${r.name}`));
    inbox.on("room.removed", (r) => events.push(`removed:${r.reason}`));
    inbox.on("unread", (u) => events.push(`total:${u.total}`));
    inbox.connect();
    await until(inbox, (s) => s.rooms.length === 2);
    await inboxUntil(ben.user.id, (s) => s.watching === 2);

    await ana.client.messages.send(first.id, { clientMsgId: "a1", body: "one" });
    await ana.client.messages.send(second.id, { clientMsgId: "a2", body: "two" });
    const state = await until(inbox, (s) => s.totalUnread === 2);
    expect(state.rooms.map((r) => r.name)).toEqual(["second", "first"]);
    expect(inbox.room(first.id)).toMatchObject({ unread: 1, lastMessage: { body: "one", senderName: "ana" } });

    await ben.client.messages.read(second.id, 1);
    await until(inbox, (s) => s.totalUnread === 1);
    const third = await ana.client.rooms.create({ name: "third", members: [ben.user.id] });
    await until(inbox, (s) => s.rooms.some((r) => r.id === third.id));
    await ben.client.rooms.leave(third.id);
    await until(inbox, (s) => !s.rooms.some((r) => r.id === third.id));
    expect(events).toEqual(expect.arrayContaining(["total:2", "total:1", "added:third", "removed:left"]));
    expect(inbox.state).toBe("open");
  });

  it("reconnects after a dropped network and catches up from its number: nothing missed, nothing twice", async () => {
    const ana = await signedUp("ana");
    const ben = await signedUp("ben");
    const room = await ana.client.rooms.create({ name: "busy", members: [ben.user.id] });
    const inbox = pool.track(ben.client.inbox({ minDelayMs: 20, maxDelayMs: 100 }));
    const states: string[] = [];
    inbox.on("state", (s) => states.push(s));
    let snapshots = 0;
    inbox.on("snapshot", () => snapshots++);
    const synced: number[] = [];
    inbox.on("synced", (s) => synced.push(s.toN));
    inbox.connect();
    await until(inbox, (s) => s.rooms.length === 1);
    await inboxUntil(ben.user.id, (s) => s.watching === 1);
    await ana.client.messages.send(room.id, { clientMsgId: "m1", body: "before" });
    await until(inbox, (s) => s.totalUnread === 1);
    const epoch = inbox.inboxState?.epoch;

    ben.sockets.at(-1)?.drop();
    await ana.client.messages.send(room.id, { clientMsgId: "m2", body: "while away" });
    await ana.client.messages.send(room.id, { clientMsgId: "m3", body: "still away" });
    const back = await until(inbox, (s) => s.totalUnread === 3, 8000);
    expect(back.epoch).toBe(epoch);
    expect(snapshots).toBe(1);
    expect(synced.length).toBeGreaterThanOrEqual(1);
    expect(states).toEqual(expect.arrayContaining(["connecting", "open", "reconnecting"]));
    expect(inbox.room(room.id)).toMatchObject({ lastSeq: 3, unread: 3, lastMessage: { body: "still away" } });
  });
});
