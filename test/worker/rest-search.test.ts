/** Full-text search limited to my rooms, with safe highlighted snippets; threads of replies. */
import { describe, expect, it } from "vitest";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";

async function say(roomId: string, token: string, clientMsgId: string, body: string, replyTo?: number) {
  const { status, json } = await api("POST", `/api/rooms/${roomId}/messages`, token, {
    clientMsgId,
    body,
    ...(replyTo ? { replyTo } : {}),
  });
  expect(status).toBe(201);
  return json.message.seq as number;
}

describe("GET /api/search", () => {
  it("finds words case-insensitively, only in my rooms, with escaped, highlighted snippets", async () => {
    const word = `zebra${crypto.randomUUID().slice(0, 8)}`;
    const ana = await createUser("ana");
    const eve = await createUser("eve");
    const mine = await createRoom(ana.id);
    const theirs = await createRoom(eve.id);
    await say(mine.id, ana.token, "a1", `The ${word.toUpperCase()} crossed <b>the</b> road`);
    await say(mine.id, ana.token, "a2", "nothing to see");
    await say(theirs.id, eve.token, "e1", `secret ${word}`);
    await drainOutbox(mine.id);
    await drainOutbox(theirs.id);
    const { status, json } = await api("GET", `/api/search?q=${word}`, ana.token);
    expect(status).toBe(200);
    expect(json.results).toHaveLength(1);
    expect(json.results[0].message).toMatchObject({ roomId: mine.id, seq: 1 });
    expect(json.results[0].snippet).toContain(`<mark>${word.toUpperCase()}</mark>`);
    expect(json.results[0].snippet).toContain("&lt;b&gt;");
    expect(json.results[0].snippet).not.toContain("<b>");
    // Eve sees only her own room's message.
    const hers = await api("GET", `/api/search?q=${word}`, eve.token);
    expect(hers.json.results.map((r: { message: { roomId: string } }) => r.message.roomId)).toEqual([theirs.id]);
    // Filtering by a room I am not in is the usual 404.
    expect((await api("GET", `/api/search?q=${word}&roomId=${theirs.id}`, ana.token)).status).toBe(404);
  });

  it("pages newest first and skips deleted messages", async () => {
    const word = `yak${crypto.randomUUID().slice(0, 8)}`;
    const users = await Promise.all([createUser("a"), createUser("b")]);
    const [a, b] = users as [Awaited<ReturnType<typeof createUser>>, Awaited<ReturnType<typeof createUser>>];
    const room = await createRoom(a.id, [b.id]);
    for (const [i, u] of [a, a, a, b].entries()) await say(room.id, u.token, `m${i}`, `${word} number ${i}`);
    await api("DELETE", `/api/messages/${room.id}/2`, a.token);
    await drainOutbox(room.id);
    const first = await api("GET", `/api/search?q=${word}&limit=2&roomId=${room.id}`, a.token);
    expect(first.json.results.map((r: { message: { seq: number } }) => r.message.seq)).toEqual([4, 3]);
    const second = await api(
      "GET",
      `/api/search?q=${word}&limit=2&roomId=${room.id}&cursor=${first.json.nextCursor}`,
      a.token,
    );
    expect(second.json.results.map((r: { message: { seq: number } }) => r.message.seq)).toEqual([1]);
    expect(second.json.nextCursor).toBeNull();
  });

  it("refuses empty or oversized queries and bad cursors", async () => {
    const ana = await createUser("ana");
    for (const q of ["?q=", `?q=${"x".repeat(201)}`, "?q=a&cursor=nope", "?nothing=1"]) {
      expect((await api("GET", `/api/search${q}`, ana.token)).status, q).toBe(400);
    }
    expect((await api("GET", "/api/search?q=a")).status).toBe(401);
  });
});

describe("threads", () => {
  it("returns a message and its replies in order, and 404s for non-members", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const eve = await createUser("eve");
    const room = await createRoom(ana.id, [bob.id]);
    const root = await say(room.id, ana.token, "root", "lunch?");
    await say(room.id, bob.token, "r1", "yes", root);
    await say(room.id, ana.token, "other", "unrelated");
    await say(room.id, bob.token, "r2", "noon", root);
    await drainOutbox(room.id);
    const { json } = await api("GET", `/api/messages/${room.id}/${root}/thread`, ana.token);
    expect(json.root).toMatchObject({ seq: root, body: "lunch?" });
    expect(json.replies.map((m: { body: string }) => m.body)).toEqual(["yes", "noon"]);
    expect((await api("GET", `/api/messages/${room.id}/${root}/thread`, eve.token)).status).toBe(404);
    expect((await api("GET", `/api/messages/${room.id}/999/thread`, ana.token)).status).toBe(404);
  });
});

describe("GET /api/users", () => {
  it("finds people by name prefix (any case) or exact email, never returning emails or me", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const me = await createUser(`Zed${tag}`);
    const ana = await createUser(`Ana${tag} Bel`);
    const ana2 = await createUser(`ana${tag}tole`);
    await createUser(`Bob${tag}`);
    const byName = await api("GET", `/api/users?q=ANA${tag.toUpperCase()}`, me.token);
    expect(byName.status).toBe(200);
    const ids = byName.json.users.map((u: { id: string }) => u.id);
    expect(ids.sort()).toEqual([ana.id, ana2.id].sort());
    expect(byName.json.users.every((u: object) => Object.keys(u).sort().join() === "displayName,id,kind")).toBe(true);
    const byEmail = await api("GET", `/api/users?q=${encodeURIComponent(ana.email.toUpperCase())}`, me.token);
    expect(byEmail.json.users).toEqual([{ id: ana.id, displayName: ana.displayName, kind: "user" }]);
    expect((await api("GET", `/api/users?q=zed${tag}`, me.token)).json.users).toEqual([]);
    // LIKE wildcards are literal.
    expect((await api("GET", "/api/users?q=%25", me.token)).json.users).toEqual([]);
    expect((await api("GET", "/api/users?q=", me.token)).status).toBe(400);
    expect((await api("GET", "/api/users?q=ana")).status).toBe(401);
  });
});
