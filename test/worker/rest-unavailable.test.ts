import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/worker/app";
import { createRoom, createUser } from "../helpers/fixtures";

/**
 * REST calls while Postgres is unreachable: the app runs with a DATABASE_URL only this test uses, and the
 * local Neon proxy fails every request carrying it while cut (other files share the proxy).
 */
async function withIsolatedDatabase() {
  const marker = `restfault${crypto.randomUUID().replaceAll("-", "")}`;
  const url = new URL(env.DATABASE_URL);
  url.password = marker;
  const control = (action: "cut" | "restore") =>
    fetch(`http://${env.NEON_LOCAL_PROXY}/__control/${action}?match=${marker}`, { method: "POST" });
  const call = async (path: string, token: string) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request(`http://edgechat.test${path}`, { headers: { authorization: `Bearer ${token}` } }),
      { ...env, DATABASE_URL: url.toString() },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  };
  return { cut: () => control("cut"), restore: () => control("restore"), call };
}

describe("REST with Postgres down", () => {
  it("answers 503 unavailable with Retry-After (not a 500), and works again once Postgres is back", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const db = await withIsolatedDatabase();
    await db.cut();
    try {
      const down = await db.call(`/api/rooms/${room.id}`, ana.token);
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBe("1");
      const body = (await down.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("unavailable");
      expect(body.error.message).not.toMatch(/select|Failed query/i);
    } finally {
      await db.restore();
    }
    const up = await db.call(`/api/rooms/${room.id}`, ana.token);
    expect(up.status).toBe(200);
  });
});
