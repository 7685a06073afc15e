/**
 * Text Postgres cannot store (NUL) or that is not Unicode (lone surrogates, invalid UTF-8 in a URL) is
 * a 400 validation_failed wherever it comes in: bodies, query strings, path segments (it was a 500).
 */
import { env, exports } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { onError } from "../../src/worker/middleware/errors";
import type { AppEnv } from "../../src/worker/types";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";

async function expectInvalidText(method: string, path: string, token: string, body?: unknown) {
  const { status, json } = await api(method, path, token, body);
  expect(status, `${method} ${path}`).toBe(400);
  expect(json.error.code, `${method} ${path}`).toBe("validation_failed");
  expect(JSON.stringify(json.error.details), `${method} ${path}`).toContain("NUL character or invalid Unicode");
}

describe("invalid text", () => {
  it("is refused in the three inputs the attack run found", async () => {
    const ana = await createUser("ana");
    await expectInvalidText("GET", "/api/search?q=%00", ana.token);
    await expectInvalidText("GET", "/api/users?q=%00", ana.token);
    await expectInvalidText("PATCH", "/api/auth/me", ana.token, { displayName: "\u0000" });
  });

  it("is refused in bodies, keys, query strings and path segments of other routes", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    // A body: NUL inside the text, and a lone surrogate (JSON.stringify sends it as the escape \ud800).
    await expectInvalidText("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: crypto.randomUUID(),
      body: "hello\u0000world",
    });
    await expectInvalidText("POST", "/api/rooms", ana.token, { name: "room \ud800" });
    await expectInvalidText("PATCH", `/api/rooms/${room.id}`, ana.token, { "topic\u0000": "x" });
    // A query string: NUL, and percent-encoded bytes that are not UTF-8 (an encoded lone surrogate).
    await expectInvalidText("GET", `/api/rooms/${room.id}/messages?before=%00`, ana.token);
    await expectInvalidText("GET", "/api/search?q=%ED%A0%80", ana.token);
    // A path parameter.
    await expectInvalidText("DELETE", `/api/messages/${room.id}/1/reactions/%00`, ana.token);
    await expectInvalidText("GET", "/api/rooms/%00", ana.token);
  });

  it("refuses bodies nested deeper than any route takes with 400, not a stack overflow's 500", async () => {
    const ana = await createUser("ana");
    const deep = `${"[".repeat(20_000)}"x"${"]".repeat(20_000)}`;
    for (const [path, body] of [
      ["/api/auth/refresh", `{"refreshToken":${deep}}`],
      ["/api/rooms", `{"name":"n","prototype":${deep}}`],
    ] as const) {
      const res = await exports.default.fetch(`http://edgechat.test${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ana.token}`, "content-type": "application/json" },
        body,
      });
      expect(res.status, path).toBe(400);
      const json = (await res.json()) as { error: { code: string; details: { message: string }[] } };
      expect(json.error.code).toBe("validation_failed");
      expect(json.error.details[0]?.message).toMatch(/nested deeper than 64 levels/);
    }
    // 64 levels is still a body (the schema then judges it).
    let fine: unknown = "x";
    for (let i = 0; i < 60; i++) fine = { a: fine };
    expect(
      (await api("POST", "/api/rooms", ana.token, { name: "n", extra: fine })).json.error.details[0].message,
    ).not.toMatch(/nested/);
  });

  it("leaves ordinary Unicode alone", async () => {
    const ana = await createUser("ana");
    const { status, json } = await api("PATCH", "/api/auth/me", ana.token, { displayName: "Ana 🙂 Ünïcødé" });
    expect(status).toBe(200);
    expect(json.user.displayName).toBe("Ana 🙂 Ünïcødé");
    expect((await api("GET", `/api/users?q=${encodeURIComponent("Ünï 🙂")}`, ana.token)).status).toBe(200);
  });
});

describe("Postgres refusing text (the last line, for input no validation saw)", () => {
  it("answers 400 validation_failed for SQLSTATE 22021, not 500", async () => {
    const probe = new Hono<AppEnv>();
    probe.get("/", async (c) => {
      await createDb(c.env).execute(sql`select ${"a\u0000b"}::text`);
      return c.text("stored");
    });
    probe.onError(onError);
    const res = await probe.fetch(new Request("http://edgechat.test/"), env);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("validation_failed");
  });
});
