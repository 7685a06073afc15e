/**
 * Integrations, part 1 (issue 27): API keys and bots. Keys are shown once and stored hashed; they
 * authenticate REST and a bot's WebSocket as a bot or a service identity; scopes hold on every route class
 * and room limits on every room route; revocation is immediate (sockets too); keys share the users' rate
 * limit; servers post system messages; every bad input is a 4xx with a stable code.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiKeys, botAccounts } from "../../src/db/integration-schema";
import { messages, roomMembers, users } from "../../src/db/schema";
import { withRedis } from "../../src/lib/redis";
import { KEY_ROUTES } from "../../src/worker/integrations/key-routes";
import { sha256Hex } from "../../src/worker/integrations/keys";
import { declaredRoutes } from "../../src/worker/route-table";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { createAdmin, createBot, createKey } from "../helpers/integrations";
import { useSocketPool } from "../helpers/sockets";
import "../../src/worker/app";

const pool = useSocketPool();

describe("API keys: creation, storage, identity", () => {
  it("shows a key once, stores only its hash, and lists it by prefix", async () => {
    const admin = await createAdmin();
    const bot = await createBot(admin.token, "Deploy bot");
    const { key, apiKey } = await createKey(admin.token, ["messages:read"], { botId: bot.id, name: "ci" });
    expect(key).toMatch(/^ek_[A-Za-z0-9_-]{43}$/);
    expect(apiKey.prefix).toBe(key.slice(0, 11));
    expect(apiKey.principal).toEqual({ id: bot.id, kind: "bot", displayName: "Deploy bot" });
    const [row] = await db().select().from(apiKeys).where(eq(apiKeys.id, apiKey.id));
    expect(row?.keyHash).toBe(await sha256Hex(key));
    expect(JSON.stringify(row)).not.toContain(key.slice(11));
    const listed = await api("GET", `/api/admin/api-keys?principalId=${bot.id}`, admin.token);
    expect(listed.status).toBe(200);
    expect(listed.json.apiKeys.map((k: { id: string }) => k.id)).toEqual([apiKey.id]);
    expect(JSON.stringify(listed.json)).not.toContain(key.slice(11));
    const one = await api("GET", `/api/admin/api-keys/${apiKey.id}`, admin.token);
    expect(one.json.apiKey.lastUsedAt).toBeNull();
    const me = await api("GET", "/api/integrations/me", key);
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ principal: { id: bot.id, kind: "bot" }, key: { id: apiKey.id, roomIds: null } });
    const used = await api("GET", `/api/admin/api-keys/${apiKey.id}`, admin.token);
    expect(used.json.apiKey.lastUsedAt).not.toBeNull();
    const bots = await api("GET", "/api/admin/bots", admin.token);
    expect(bots.json.bots.find((b: { id: string }) => b.id === bot.id)).toMatchObject({ kind: "bot", activeKeys: 1 });
  });

  it("a bot cannot sign in with a password, and a service key gets a service identity of its own", async () => {
    const admin = await createAdmin();
    const bot = await createBot(admin.token);
    const [row] = await db().select().from(users).where(eq(users.id, bot.id));
    const login = await api("POST", "/api/auth/login", undefined, {
      email: row?.email,
      password: "!integration and more",
    });
    expect(row?.passwordHash).toBe("!integration");
    expect(login.status).toBe(401);
    const { apiKey } = await createKey(admin.token, ["messages:system"], { name: "billing server" });
    expect(apiKey.principal).toMatchObject({ kind: "service", displayName: "billing server" });
    const [service] = await db().select().from(botAccounts).where(eq(botAccounts.userId, apiKey.principal.id));
    expect(service?.kind).toBe("service");
  });

  it("refuses malformed, unknown, expired and banned keys with 401", async () => {
    const admin = await createAdmin();
    const bot = await createBot(admin.token);
    const { key, apiKey } = await createKey(admin.token, ["messages:read"], { botId: bot.id });
    for (const bad of ["ek_short", `ek_${"A".repeat(43)}`, `${key}x`]) {
      const res = await api("GET", "/api/integrations/me", bad);
      expect(res.status, bad).toBe(401);
      expect(res.json.error.code).toBe("unauthorized");
    }
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, bot.id));
    expect((await api("GET", "/api/integrations/me", key)).status).toBe(401);
    await db().update(users).set({ bannedAt: null }).where(eq(users.id, bot.id));
    expect((await api("GET", "/api/integrations/me", key)).status).toBe(200);
    await db()
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, apiKey.id));
    expect((await api("GET", "/api/integrations/me", key)).status).toBe(401);
  });
});

describe("scopes on every route class", () => {
  it("opens each class only with its scope, and the admin API only with admin", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token);
    const room = await createRoom(owner.id, [bot.id]);
    const keyWith = async (...scopes: Parameters<typeof createKey>[1]) =>
      (await createKey(admin.token, scopes, { botId: bot.id })).key;
    const read = await keyWith("messages:read");
    const write = await keyWith("messages:write");
    const manage = await keyWith("rooms:manage");
    const people = await keyWith("users:read");
    const adminKey = (await createKey(admin.token, ["admin"])).key;

    const calls: [string, string, unknown, string][] = [
      ["GET", `/api/rooms/${room.id}/messages`, undefined, "messages:read"],
      ["GET", `/api/rooms/${room.id}/members`, undefined, "messages:read"],
      ["GET", "/api/rooms", undefined, "messages:read"],
      ["POST", `/api/rooms/${room.id}/messages`, { clientMsgId: "c", body: "hi" }, "messages:write"],
      ["POST", "/api/rooms", { name: "made by a bot" }, "rooms:manage"],
      ["GET", "/api/users?q=own", undefined, "users:read"],
    ];
    const keys: Record<string, string> = {
      "messages:read": read,
      "messages:write": write,
      "rooms:manage": manage,
      "users:read": people,
    };
    for (const [method, path, body, scope] of calls) {
      for (const [held, key] of Object.entries(keys)) {
        const fresh = body && typeof body === "object" && "clientMsgId" in body;
        const res = await api(method, path, key, fresh ? { ...body, clientMsgId: crypto.randomUUID() } : body);
        if (held === scope) {
          expect(res.status, `${held} on ${method} ${path}: ${JSON.stringify(res.json)}`).toBeLessThan(300);
        } else {
          expect(res.status, `${held} on ${method} ${path}`).toBe(403);
          expect(res.json.error).toMatchObject({ code: "forbidden", details: { requiredScope: scope } });
        }
      }
    }
    // The admin API: absent (404) for every key but an admin one.
    for (const key of Object.values(keys)) expect((await api("GET", "/api/admin/stats", key)).status).toBe(404);
    expect((await api("GET", "/api/admin/stats", adminKey)).status).toBe(200);
    expect((await api("GET", "/api/admin/api-keys", adminKey)).status).toBe(200);
    // Routes no key may use: a user's own settings, notifications, the inbox's ticket.
    for (const [method, path] of [
      ["GET", "/api/notifications"],
      ["GET", "/api/me/notification-settings"],
      ["POST", "/api/me/ws-ticket"],
      ["PATCH", "/api/auth/me"],
    ] as const) {
      const res = await api(method, path, adminKey, method === "PATCH" ? { displayName: "x" } : undefined);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.message).toBe("API keys cannot use this route");
    }
  });

  it("names only routes that exist", () => {
    const declared = new Set(declaredRoutes().map((r) => `${r.method.toUpperCase()} ${r.path}`));
    expect(Object.keys(KEY_ROUTES).filter((k) => !declared.has(k))).toEqual([]);
  });

  it("holds a room-limited key to its rooms", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token);
    const mine = await createRoom(owner.id, [bot.id]);
    const other = await createRoom(owner.id, [bot.id]);
    const { key } = await createKey(admin.token, ["messages:read", "messages:write", "rooms:manage"], {
      botId: bot.id,
      roomIds: [mine.id],
    });
    expect((await api("GET", `/api/rooms/${mine.id}/messages`, key)).status).toBe(200);
    for (const [method, path] of [
      ["GET", `/api/rooms/${other.id}/messages`],
      ["GET", `/api/messages/${other.id}/1/thread`],
      ["GET", "/api/rooms"],
      ["GET", "/api/search?q=x"],
      ["GET", `/api/search?q=x&roomId=${other.id}`],
      ["POST", "/api/rooms"],
    ] as const) {
      const res = await api(method, path, key, method === "POST" ? { name: "x" } : undefined);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.code).toBe("forbidden");
    }
    expect((await api("GET", `/api/search?q=x&roomId=${mine.id}`, key)).status).toBe(200);
    expect((await upgradeWith(other.id, key)).status).toBe(403);
  });
});

async function upgradeWith(roomId: string, key: string) {
  const { exports } = await import("cloudflare:workers");
  return exports.default.fetch(`http://edgechat.test/api/rooms/${roomId}/ws`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${key}` },
  });
}

describe("a bot in a room", () => {
  it("posts over REST and over its WebSocket, and its messages carry its id", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token, "Answer bot");
    const room = await createRoom(owner.id, [bot.id]);
    const { key } = await createKey(admin.token, ["messages:read", "messages:write"], { botId: bot.id });
    const human = await pool.join(room.id, owner.token);
    const rest = await api("POST", `/api/rooms/${room.id}/messages`, key, { clientMsgId: "b-1", body: "over REST" });
    expect(rest.status).toBe(201);
    expect(rest.json.message.senderId).toBe(bot.id);
    const socket = await pool.connect(room.id, key);
    const welcome = await socket.next("welcome");
    expect(welcome.you).toBe(bot.id);
    socket.send({ type: "send", clientMsgId: "b-2", body: "over the socket" });
    expect((await socket.next("ack")).seq).toBe(2);
    await human.until((f) => f.type === "message" && f.body === "over the socket");
    await drainOutbox(room.id);
    const history = await api("GET", `/api/rooms/${room.id}/messages`, owner.token);
    expect(history.json.messages.map((m: { senderId: string }) => m.senderId)).toEqual([bot.id, bot.id]);
  });

  it("is marked as a bot wherever people see it: members, people search, direct rooms, admin views", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const name = `Marked bot ${crypto.randomUUID().slice(0, 8)}`;
    const bot = await createBot(admin.token, name);
    const room = await createRoom(owner.id, [bot.id]);
    const members = await api("GET", `/api/rooms/${room.id}/members`, owner.token);
    const kinds = Object.fromEntries(
      members.json.members.map((m: { userId: string; kind: string }) => [m.userId, m.kind]),
    );
    expect(kinds).toEqual({ [owner.id]: "user", [bot.id]: "bot" });
    const found = await api("GET", `/api/users?q=${encodeURIComponent(name)}`, owner.token);
    expect(found.json.users).toEqual([{ id: bot.id, displayName: name, kind: "bot" }]);
    const direct = await api("POST", "/api/rooms/direct", owner.token, { userId: bot.id });
    expect(direct.json.room.peer).toEqual({ id: bot.id, displayName: name, kind: "bot" });
    const listed = await api("GET", "/api/rooms", owner.token);
    const listedDirect = listed.json.rooms.find((r: { id: string }) => r.id === direct.json.room.id);
    expect(listedDirect.peer.kind).toBe("bot");
    expect((await api("GET", `/api/admin/users/${bot.id}`, admin.token)).json.user.kind).toBe("bot");
    expect((await api("GET", "/api/auth/me", owner.token)).json.user.kind).toBe("user");
  });

  it("a non-member bot is told 404 like any user", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token);
    const room = await createRoom(owner.id);
    const { key } = await createKey(admin.token, ["messages:read", "messages:write"], { botId: bot.id });
    expect((await api("GET", `/api/rooms/${room.id}/messages`, key)).status).toBe(404);
    expect((await upgradeWith(room.id, key)).status).toBe(404);
  });
});

describe("revocation", () => {
  it("refuses the key from the next request on and closes the bot's sockets", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const bot = await createBot(admin.token);
    const room = await createRoom(owner.id, [bot.id]);
    const { key, apiKey } = await createKey(admin.token, ["messages:read", "messages:write"], { botId: bot.id });
    const socket = await pool.join(room.id, key);
    expect((await api("GET", `/api/rooms/${room.id}/messages`, key)).status).toBe(200);
    // A ticket minted with the key (the SDK's way in) opens nothing once the key is revoked.
    const minted = await api("POST", `/api/rooms/${room.id}/ws-ticket`, key);
    expect(minted.status).toBe(200);
    expect((await api("DELETE", `/api/admin/api-keys/${apiKey.id}`, admin.token)).status).toBe(204);
    const { exports } = await import("cloudflare:workers");
    const withTicket = await exports.default.fetch(
      `http://edgechat.test/api/rooms/${room.id}/ws?ticket=${encodeURIComponent(minted.json.ticket)}`,
      { headers: { Upgrade: "websocket" } },
    );
    expect(withTicket.status).toBe(401);
    const after = await api("GET", `/api/rooms/${room.id}/messages`, key);
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe("unauthorized");
    expect((await socket.waitClosed()).code).toBe(4001);
    expect((await upgradeWith(room.id, key)).status).toBe(401);
    // Revoking again is harmless; the record stays, marked.
    expect((await api("DELETE", `/api/admin/api-keys/${apiKey.id}`, admin.token)).status).toBe(204);
    const listed = await api("GET", `/api/admin/api-keys?principalId=${bot.id}`, admin.token);
    expect(listed.json.apiKeys).toEqual([]);
    const all = await api("GET", `/api/admin/api-keys?principalId=${bot.id}&includeRevoked=true`, admin.token);
    expect(all.json.apiKeys[0].revokedAt).not.toBeNull();
  });
});

describe("rate limit", () => {
  it("counts a key's requests in its principal's window, like a user's", async () => {
    const admin = await createAdmin();
    const bot = await createBot(admin.token);
    const { key } = await createKey(admin.token, ["messages:read"], { botId: bot.id });
    for (let i = 0; i < 3; i++) expect((await api("GET", "/api/integrations/me", key)).status).toBe(200);
    const counted = await withRedis(env, (r) => r.zcard(`ratelimit:user:${bot.id}`));
    expect(counted).toBe(3);
  });
});

describe("system messages posted by servers", () => {
  it("posts a kind: system message with its poster, once per clientMsgId", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    const { key, apiKey } = await createKey(admin.token, ["messages:system"], { name: "Billing" });
    const watcher = await pool.join(room.id, owner.token);
    const body = { clientMsgId: "invoice-42", body: "Invoice 42 was paid", custom: { invoice: 42 } };
    const first = await api("POST", `/api/rooms/${room.id}/system-messages`, key, body);
    expect(first.status).toBe(201);
    expect(first.json.message).toMatchObject({
      seq: 1,
      kind: "system",
      senderId: apiKey.principal.id,
      system: { event: "notice", by: apiKey.principal.id },
      body: "Invoice 42 was paid",
      custom: { invoice: 42 },
    });
    const frame = await watcher.next("message");
    expect(frame).toMatchObject({ kind: "system", system: { event: "notice" } });
    const again = await api("POST", `/api/rooms/${room.id}/system-messages`, key, body);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ duplicate: true, message: { seq: 1 } });
    await drainOutbox(room.id);
    const rows = await db().select().from(messages).where(eq(messages.roomId, room.id));
    expect(rows.map((r) => [r.seq, r.kind])).toEqual([[1, "system"]]);
    // Not a member, and not made one.
    const members = await db().select().from(roomMembers).where(eq(roomMembers.roomId, room.id));
    expect(members.map((m) => m.userId)).toEqual([owner.id]);
  });

  it("is for keys with messages:system only, in their rooms", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    const other = await createRoom(owner.id);
    const body = { clientMsgId: "x-1", body: "hello" };
    const asUser = await api("POST", `/api/rooms/${room.id}/system-messages`, owner.token, body);
    expect(asUser.status).toBe(403);
    const noScope = (await createKey(admin.token, ["messages:write"])).key;
    expect((await api("POST", `/api/rooms/${room.id}/system-messages`, noScope, body)).status).toBe(403);
    const limited = (await createKey(admin.token, ["messages:system"], { roomIds: [room.id] })).key;
    expect((await api("POST", `/api/rooms/${other.id}/system-messages`, limited, body)).status).toBe(403);
    expect((await api("POST", `/api/rooms/${room.id}/system-messages`, limited, body)).status).toBe(201);
    const missing = await api("POST", `/api/rooms/${crypto.randomUUID()}/system-messages`, noScope, body);
    expect(missing.status).toBe(403);
    const system = (await createKey(admin.token, ["messages:system"])).key;
    const nowhere = await api("POST", `/api/rooms/${crypto.randomUUID()}/system-messages`, system, body);
    expect(nowhere.status).toBe(404);
    expect(nowhere.json.error.code).toBe("not_found");
  });
});

describe("bad input to every new route: a 4xx with a stable code", () => {
  it("refuses bodies, ids and queries that cannot work", async () => {
    const admin = await createAdmin();
    const owner = await createUser("owner");
    const room = await createRoom(owner.id);
    const system = (await createKey(admin.token, ["messages:system"])).key;
    const cases: [string, string, unknown, number, string, string?][] = [
      ["POST", "/api/admin/api-keys", { name: "x", scopes: ["nope"] }, 400, "validation_failed", "scopes.0"],
      ["POST", "/api/admin/api-keys", { name: "x", scopes: [] }, 400, "validation_failed", "scopes"],
      ["POST", "/api/admin/api-keys", { name: "", scopes: ["admin"] }, 400, "validation_failed", "name"],
      [
        "POST",
        "/api/admin/api-keys",
        { name: "x", scopes: ["admin"], roomIds: [room.id] },
        400,
        "validation_failed",
        "roomIds",
      ],
      ["POST", "/api/admin/api-keys", { name: "x", scopes: ["admin", "admin"] }, 400, "validation_failed", "scopes"],
      [
        "POST",
        "/api/admin/api-keys",
        { name: "x", scopes: ["messages:read"], roomIds: [crypto.randomUUID()] },
        400,
        "validation_failed",
        "roomIds",
      ],
      [
        "POST",
        "/api/admin/api-keys",
        { name: "x", scopes: ["messages:read"], expiresAt: "2001-01-01T00:00:00Z" },
        400,
        "validation_failed",
        "expiresAt",
      ],
      [
        "POST",
        "/api/admin/api-keys",
        { name: "x", scopes: ["messages:read"], principalId: owner.id },
        400,
        "validation_failed",
      ],
      ["POST", "/api/admin/api-keys", { name: "x", scopes: ["messages:read"], botId: owner.id }, 404, "not_found"],
      ["GET", "/api/admin/api-keys?includeRevoked=maybe", undefined, 400, "validation_failed", "includeRevoked"],
      ["GET", "/api/admin/api-keys/not-a-uuid", undefined, 404, "not_found"],
      ["GET", `/api/admin/api-keys/${crypto.randomUUID()}`, undefined, 404, "not_found"],
      ["DELETE", `/api/admin/api-keys/${crypto.randomUUID()}`, undefined, 404, "not_found"],
      ["POST", "/api/admin/bots", { displayName: "  " }, 400, "validation_failed", "displayName"],
      ["POST", "/api/admin/bots", { displayName: "b", isAdmin: true }, 400, "validation_failed"],
      ["GET", `/api/admin/bots/${owner.id}`, undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code, field] of cases) {
      const res = await api(method, path, admin.token, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.json)}`).toBe(status);
      expect(res.json.error.code).toBe(code);
      if (field) expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const messageCases: [unknown, string][] = [
      [{ clientMsgId: "a", body: "" }, "body"],
      [{ clientMsgId: "a b", body: "x" }, "clientMsgId"],
      [{ clientMsgId: "system:7", body: "x" }, "clientMsgId"],
      [{ clientMsgId: "a", body: "x", kind: "regular" }, "kind"],
      [{ clientMsgId: "a", body: "x".repeat(4001) }, "body"],
    ];
    for (const [body, field] of messageCases) {
      const res = await api("POST", `/api/rooms/${room.id}/system-messages`, system, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.json.error.details)).toContain(field);
    }
    const badRoom = await api("POST", "/api/rooms/nope/system-messages", system, { clientMsgId: "a", body: "x" });
    expect(badRoom.status).toBe(404);
    expect((await api("GET", "/api/integrations/me", owner.token)).status).toBe(403);
  });
});
