/**
 * The SDK with an API key (issue 27): a bot or a server uses the same client as people, with a key instead
 * of a session. The key's principal is learnt once; a bot's room connection receives and sends like a
 * member's; a server posts system messages; revoking the key ends the connection instead of retrying.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { EdgechatClient, EdgechatError, type MessageView } from "../../src/client";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createAdmin, createBot, createKey } from "../helpers/integrations";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const until = (check: () => boolean) => vi.waitUntil(check, { timeout: 15_000, interval: 20 });

function keyClient(apiKey: string) {
  return pool.track(
    new EdgechatClient({
      baseUrl: "http://edgechat.test",
      apiKey,
      fetch: (input, init) => exports.default.fetch(input as string, init),
      webSocket: (url) => pool.sdkSocket(url),
    }),
  );
}

describe("the SDK with an API key", () => {
  it("a bot learns who it is, hears the room and answers in it", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token, "Echo bot");
    const room = await createRoom(owner.id, [bot.id]);
    const { key } = await createKey(admin.token, ["messages:read", "messages:write"], { botId: bot.id });
    const client = keyClient(key);
    expect(client.usesApiKey).toBe(true);
    expect(client.userId).toBeNull();
    const who = await client.integrations.identity();
    expect(who.principal).toEqual({ id: bot.id, kind: "bot", displayName: "Echo bot" });
    expect(client.userId).toBe(bot.id);

    const conn = pool.track(client.room(room.id, { minDelayMs: 20, maxDelayMs: 200 }));
    const heard: MessageView[] = [];
    conn.on("message", (m) => heard.push(m));
    const welcomed = new Promise((resolve) => conn.on("welcome", resolve));
    conn.connect();
    await welcomed;
    const asked = await api("POST", `/api/rooms/${room.id}/messages`, owner.token, {
      clientMsgId: "q-1",
      body: "ping",
    });
    expect(asked.status).toBe(201);
    await until(() => heard.some((m) => m.body === "ping"));
    const answer = await conn.send("pong", { replyTo: asked.json.message.seq });
    expect(answer.seq).toBe(asked.json.message.seq + 1);
    await drainOutbox(room.id);
    const history = await api("GET", `/api/rooms/${room.id}/messages`, owner.token);
    const bySeq = [...history.json.messages].sort((a: MessageView, b: MessageView) => a.seq - b.seq);
    expect(bySeq.map((m: MessageView) => [m.senderId, m.body])).toEqual([
      [owner.id, "ping"],
      [bot.id, "pong"],
    ]);
    // REST through the SDK acts as the bot too.
    const members = await client.rooms.members(room.id);
    expect(members.find((m) => m.userId === bot.id)?.kind).toBe("bot");
  });

  it("a server posts system messages once per clientMsgId", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    const { key } = await createKey(admin.token, ["messages:system"], { name: "billing server", roomIds: [room.id] });
    const server = keyClient(key);
    const first = await server.integrations.postSystemMessage(room.id, { clientMsgId: "invoice-7", body: "Paid" });
    const again = await server.integrations.postSystemMessage(room.id, { clientMsgId: "invoice-7", body: "Paid" });
    expect(first).toMatchObject({ kind: "system", body: "Paid" });
    expect(again.seq).toBe(first.seq);
    const other = await createRoom(owner.id);
    await expect(server.integrations.postSystemMessage(other.id, { clientMsgId: "x", body: "no" })).rejects.toThrow(
      EdgechatError,
    );
  });

  it("a revoked key ends the bot's connection and its calls fail with 401, without retrying", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token);
    const room = await createRoom(owner.id, [bot.id]);
    const { key, apiKey } = await createKey(admin.token, ["messages:read", "messages:write"], { botId: bot.id });
    const client = keyClient(key);
    const conn = pool.track(client.room(room.id, { minDelayMs: 20, maxDelayMs: 200 }));
    const states: string[] = [];
    const errors: string[] = [];
    conn.on("state", (s) => states.push(s));
    conn.on("error", (e) => errors.push(e.code));
    const welcomed = new Promise((resolve) => conn.on("welcome", resolve));
    conn.connect();
    await welcomed;
    expect((await api("DELETE", `/api/admin/api-keys/${apiKey.id}`, admin.token)).status).toBe(204);
    await until(() => states.at(-1) === "closed");
    expect(errors).toContain("closed");
    const err = await client.rooms.members(room.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgechatError);
    expect((err as EdgechatError).status).toBe(401);
  });

  it("takes a key or a session, not both", () => {
    expect(
      () =>
        new EdgechatClient({
          baseUrl: "http://edgechat.test",
          apiKey: "ek_x",
          session: { accessToken: "a", refreshToken: "r", expiresAt: 0 },
        }),
    ).toThrow(TypeError);
  });
});
