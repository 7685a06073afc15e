import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { findMembership } from "../../src/db/membership";
import { users } from "../../src/db/schema";
import { app } from "../../src/worker/app";
import { createRoom, createUser, db } from "../helpers/fixtures";

/** The app as it runs while Redis is unreachable: every limiter and ban-marker call fails. */
async function withRedisDown(method: string, path: string, token: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://edgechat.test${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers } }),
    { ...env, UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("one membership truth (integration: real Postgres, Redis down)", () => {
  it("findMembership answers role for members, null for strangers, the banned and non-ids", async () => {
    const [ana, bob, eve] = [await createUser("ana"), await createUser("bob"), await createUser("eve")];
    const room = await createRoom(ana.id, [bob.id], [bob.id]);
    expect(await findMembership(db(), room.id, ana.id)).toMatchObject({ role: "owner", room: { id: room.id } });
    expect(await findMembership(db(), room.id.toUpperCase(), bob.id)).toMatchObject({ role: "admin" });
    expect(await findMembership(db(), room.id, eve.id)).toBeNull();
    expect(await findMembership(db(), "not-a-room", ana.id)).toBeNull();
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, bob.id));
    expect(await findMembership(db(), room.id, bob.id)).toBeNull();
  });

  it("refuses a banned user's still-valid token on REST room routes, tickets and upgrades while Redis is down", async () => {
    const [ana, bob] = [await createUser("ana"), await createUser("bob")];
    const room = await createRoom(ana.id, [bob.id]);
    // Before the ban, the same calls succeed with Redis down (the limiter fails open, on purpose).
    expect((await withRedisDown("GET", `/api/rooms/${room.id}`, bob.token)).status).toBe(200);
    // An admin's ban is a Postgres write (the Redis marker only speeds refusals up, and Redis is down).
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, bob.id));

    // Refused at the session check (the ban in Postgres ends every session), before membership is asked.
    for (const [method, path] of [
      ["GET", `/api/rooms/${room.id}`],
      ["GET", `/api/rooms/${room.id}/messages`],
      ["GET", `/api/rooms/${room.id}/members`],
      ["POST", `/api/rooms/${room.id}/ws-ticket`],
    ] as const) {
      const res = await withRedisDown(method, path, bob.token);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    const upgrade = await withRedisDown("GET", `/api/rooms/${room.id}/ws`, bob.token, { upgrade: "websocket" });
    expect(upgrade.status).toBe(401);
    expect(upgrade.webSocket).toBeNull();
    // The owner is unaffected.
    expect((await withRedisDown("GET", `/api/rooms/${room.id}`, ana.token)).status).toBe(200);
  });
});
