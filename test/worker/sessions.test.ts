/**
 * Session lifecycle races and logout: a refresh token replayed in a race kills everything minted in its
 * session, and a logged-out access token is refused at once on REST and socket routes, Redis up or down.
 */
import { describe, expect, it } from "vitest";
import { createRoom } from "../helpers/fixtures";
import { callWorker, type Redis } from "../helpers/worker-call";

async function register() {
  const email = `session-${crypto.randomUUID()}@example.test`;
  const { status, json } = await callWorker("up", "POST", "/api/auth/register", {
    body: { email, displayName: "Ana", password: "correct horse battery" },
  });
  expect(status).toBe(201);
  return json as { user: { id: string }; accessToken: string; refreshToken: string };
}

const refresh = (redis: Redis, refreshToken: string) =>
  callWorker(redis, "POST", "/api/auth/refresh", { body: { refreshToken } });
const me = (redis: Redis, token: string) => callWorker(redis, "GET", "/api/auth/me", { token });

describe("concurrent refreshes with one token", () => {
  it("let at most one through, and leave every token of the session dead (several trials)", async () => {
    for (let trial = 0; trial < 5; trial++) {
      const session = await register();
      const racers = await Promise.all(Array.from({ length: 4 }, () => refresh("up", session.refreshToken)));
      const statuses = racers.map((r) => r.status).sort();
      expect(statuses, `trial ${trial}`).toEqual([200, 401, 401, 401]);
      const winners = racers.filter((r) => r.status === 200).map((r) => r.json);
      for (const w of winners) {
        expect((await refresh("up", w.refreshToken)).status, `trial ${trial}: minted refresh token`).toBe(401);
        expect((await me("up", w.accessToken)).status, `trial ${trial}: minted access token`).toBe(401);
      }
      expect((await refresh("up", session.refreshToken)).status).toBe(401);
      expect((await me("up", session.accessToken)).status, `trial ${trial}: first access token`).toBe(401);
    }
  });

  it("a replay after a refresh that had already finished kills the successor and its access token", async () => {
    const session = await register();
    const next = await refresh("up", session.refreshToken);
    expect(next.status).toBe(200);
    expect((await me("up", next.json.accessToken)).status).toBe(200);
    expect((await refresh("up", session.refreshToken)).status).toBe(401);
    expect((await refresh("up", next.json.refreshToken)).status).toBe(401);
    expect((await me("up", next.json.accessToken)).status).toBe(401);
  });
});

describe.each(["up", "down"] as const)("logout, with Redis %s", (redis) => {
  it("ends the access token at once on REST, ticket minting and socket upgrades", async () => {
    const session = await register();
    const room = await createRoom(session.user.id);
    // Used before the logout, so any cache of the session's state is warm.
    expect((await me(redis, session.accessToken)).status).toBe(200);
    const early = await callWorker(redis, "POST", `/api/rooms/${room.id}/ws-ticket`, { token: session.accessToken });
    expect(early.status).toBe(200);

    const out = await callWorker(redis, "POST", "/api/auth/logout", { body: { refreshToken: session.refreshToken } });
    expect(out.status).toBe(204);

    const refused = [
      await me(redis, session.accessToken),
      await callWorker(redis, "POST", `/api/rooms/${room.id}/messages`, {
        token: session.accessToken,
        body: { clientMsgId: crypto.randomUUID(), body: "after logout" },
      }),
      await callWorker(redis, "POST", `/api/rooms/${room.id}/ws-ticket`, { token: session.accessToken }),
      await callWorker(redis, "GET", `/api/rooms/${room.id}/ws`, {
        token: session.accessToken,
        headers: { upgrade: "websocket" },
      }),
      // A ticket minted before the logout opens nothing after it.
      await callWorker(redis, "GET", `/api/rooms/${room.id}/ws?ticket=${encodeURIComponent(early.json.ticket)}`, {
        headers: { upgrade: "websocket" },
      }),
    ];
    for (const [i, r] of refused.entries()) {
      expect(r.status, `call ${i}`).toBe(401);
      expect(r.json.error.code, `call ${i}`).toBe("unauthorized");
      expect(r.res.headers.get("www-authenticate"), `call ${i}`).toMatch(/^Bearer/);
    }
    expect((await refresh(redis, session.refreshToken)).status).toBe(401);
  });
});

describe("logout while Redis is down", () => {
  it("is refused with Redis down, and with Redis up once its cached state has expired or was never warm", async () => {
    const session = await register();
    expect(
      (await callWorker("down", "POST", "/api/auth/logout", { body: { refreshToken: session.refreshToken } })).status,
    ).toBe(204);
    expect((await me("down", session.accessToken)).status).toBe(401);
    // Redis never heard of the logout, and holds no state for the session: it asks Postgres.
    expect((await me("up", session.accessToken)).status).toBe(401);
  });
});
