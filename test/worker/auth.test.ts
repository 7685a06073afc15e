/** Accounts, tokens and every attack on them, against the real worker and Postgres. */
import { env, exports } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { refreshTokens, users } from "../../src/db/schema";
import { signAccessToken, signJwt } from "../../src/lib/jwt";
import { hashPassword, MAX_ITERATIONS, verifyPassword } from "../../src/worker/auth/password";
import { startSession } from "../../src/worker/auth/refresh-tokens";
import { signTicket } from "../../src/worker/auth/ticket";
import { createRoom, db } from "../helpers/fixtures";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

type Json = Record<string, unknown> & { error?: { code: string; message: string; details?: { field: string }[] } };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(`http://edgechat.test${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { res, json: (text ? JSON.parse(text) : null) as Json };
}

const email = () => `Person-${crypto.randomUUID()}@Example.test`;

async function register(overrides: Record<string, unknown> = {}) {
  const body = { email: email(), displayName: "Ana", password: "correct horse battery", ...overrides };
  const { res, json } = await call("POST", "/api/auth/register", body);
  expect(res.status).toBe(201);
  return { body, json: json as { user: { id: string; email: string }; accessToken: string; refreshToken: string } };
}

describe("register", () => {
  it("creates the account and signs it in", async () => {
    const { body, json } = await register();
    expect(json.user).toMatchObject({ email: body.email, displayName: "Ana" });
    expect(json).toMatchObject({ tokenType: "Bearer", expiresIn: 900 });
    const me = await call("GET", "/api/auth/me", undefined, { authorization: `Bearer ${json.accessToken}` });
    expect(me.json.user).toMatchObject({ id: json.user.id, email: body.email });
  });

  it("refuses an email that exists in another case with 409", async () => {
    const { body } = await register();
    const { res, json } = await call("POST", "/api/auth/register", { ...body, email: body.email.toLowerCase() });
    expect(res.status).toBe(409);
    expect(json.error).toMatchObject({ code: "conflict", details: [{ field: "email" }] });
  });

  it("explains every invalid field, and refuses fields a client may not set", async () => {
    const { res, json } = await call("POST", "/api/auth/register", {
      email: "nope",
      displayName: "",
      password: "short",
    });
    expect(res.status).toBe(400);
    expect(json.error?.code).toBe("validation_failed");
    expect(json.error?.details?.map((d) => d.field).sort()).toEqual(["displayName", "email", "password"]);
    const extra = await call("POST", "/api/auth/register", {
      email: email(),
      displayName: "A",
      password: "long enough pw",
      role: "admin",
    });
    expect(extra.res.status).toBe(400);
    expect(JSON.stringify(extra.json.error?.details)).toContain("role");
  });

  it("refuses an absurdly long password before hashing it", async () => {
    const { res, json } = await call("POST", "/api/auth/register", {
      email: email(),
      displayName: "A",
      password: "x".repeat(257),
    });
    expect(res.status).toBe(400);
    expect(json.error?.details).toEqual([{ field: "password", message: "at most 256 characters" }]);
    // A password the size of a small file never reaches validation at all.
    const huge = await call("POST", "/api/auth/register", {
      email: email(),
      displayName: "A",
      password: "x".repeat(100_000),
    });
    expect(huge.res.status).toBe(413);
  });

  it("answers 415 to non-JSON, 400 to broken JSON, 413 to huge bodies", async () => {
    const form = await exports.default.fetch("http://edgechat.test/api/auth/register", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "email=a",
    });
    expect(form.status).toBe(415);
    expect((await call("POST", "/api/auth/register", "{not json")).res.status).toBe(400);
    expect((await call("POST", "/api/auth/register", { pad: "x".repeat(70_000) })).res.status).toBe(413);
  });
});

describe("login", () => {
  it("signs in with the password, whatever the email's case", async () => {
    const { body, json } = await register();
    const { res, json: login } = await call("POST", "/api/auth/login", {
      email: body.email.toUpperCase(),
      password: body.password,
    });
    expect(res.status).toBe(200);
    expect((login.user as { id: string }).id).toBe(json.user.id);
  });

  it("gives the same 401 for a wrong password and an unknown email", async () => {
    const { body } = await register();
    const wrong = await call("POST", "/api/auth/login", { email: body.email, password: "not the password" });
    const unknown = await call("POST", "/api/auth/login", { email: email(), password: "not the password" });
    for (const r of [wrong, unknown]) {
      expect(r.res.status).toBe(401);
      expect(r.res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(r.json.error?.message).toBe("Email or password is wrong");
    }
  });
});

describe("me", () => {
  it("updates the display name and refuses fields it does not own", async () => {
    const { json } = await register();
    const auth = { authorization: `Bearer ${json.accessToken}` };
    const { json: updated } = await call("PATCH", "/api/auth/me", { displayName: "Ana B." }, auth);
    expect(updated.user).toMatchObject({ displayName: "Ana B." });
    const sneaky = await call("PATCH", "/api/auth/me", { displayName: "x", email: "other@example.test" }, auth);
    expect(sneaky.res.status).toBe(400);
  });
});

describe("refresh tokens", () => {
  it("rotate on every use; the old one stops working", async () => {
    const { json } = await register();
    const first = await call("POST", "/api/auth/refresh", { refreshToken: json.refreshToken });
    expect(first.res.status).toBe(200);
    expect(first.json.refreshToken).not.toBe(json.refreshToken);
    const me = await call("GET", "/api/auth/me", undefined, { authorization: `Bearer ${first.json.accessToken}` });
    expect(me.res.status).toBe(200);
  });

  it("a reused (rotated) token revokes the whole family", async () => {
    const { json } = await register();
    const next = await call("POST", "/api/auth/refresh", { refreshToken: json.refreshToken });
    const replay = await call("POST", "/api/auth/refresh", { refreshToken: json.refreshToken });
    expect(replay.res.status).toBe(401);
    // The legitimate successor dies with the family.
    const successor = await call("POST", "/api/auth/refresh", { refreshToken: next.json.refreshToken });
    expect(successor.res.status).toBe(401);
  });

  it("logout revokes the family and closes the user's sockets with 4001", async () => {
    const { json } = await register();
    const room = await createRoom(json.user.id);
    const socket = await pool.connect(room.id, json.accessToken);
    await socket.next("welcome");
    const out = await call("POST", "/api/auth/logout", { refreshToken: json.refreshToken });
    expect(out.res.status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(4001);
    expect((await call("POST", "/api/auth/refresh", { refreshToken: json.refreshToken })).res.status).toBe(401);
    expect((await call("POST", "/api/auth/logout", { refreshToken: json.refreshToken })).res.status).toBe(204);
  });

  it("a token that outlived its user's ban (issued while the ban committed) refreshes into a 403", async () => {
    const { json } = await register();
    // The ban as it lands between a login's password check and its token insert: the user row says
    // banned, the token the login is about to hand out was not there to be revoked.
    await db().update(users).set({ bannedAt: new Date() }).where(eq(users.id, json.user.id));
    expect(await startSession(db(), json.user.id)).toBeNull();
    const refused = await call("POST", "/api/auth/refresh", { refreshToken: json.refreshToken });
    expect(refused.res.status).toBe(403);
    expect(refused.json.error?.code).toBe("forbidden");
    const [{ n } = { n: -1 }] = await db()
      .select({ n: sql<number>`count(*)::int` })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, json.user.id));
    expect(n).toBe(1);
  });

  it("refuses unknown and malformed refresh tokens", async () => {
    expect((await call("POST", "/api/auth/refresh", { refreshToken: "made-up" })).res.status).toBe(401);
    expect((await call("POST", "/api/auth/refresh", { token: "x" })).res.status).toBe(400);
  });
});

describe("access-token attacks: each is a 401 with a Bearer challenge", () => {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

  async function attacks(userId: string, sessionId: string): Promise<Record<string, string>> {
    const now = Math.floor(Date.now() / 1000);
    const claims = { typ: "access", sub: userId, iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE, iat: now, exp: now + 600 };
    const signing = JSON.parse(env.JWT_SIGNING_KEY) as JWK;
    const publicJwk = (JSON.parse(env.JWT_VERIFY_KEYS) as { keys: JWK[] }).keys[0] as JWK;
    const realKey = await importJWK(signing, "ES256");
    const stranger = await generateKeyPair("ES256", { extractable: true });
    const strangerJwk = await exportJWK(stranger.privateKey);
    return {
      "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`,
      "HS256 with the public key as secret": await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", kid: signing.kid })
        .sign(new TextEncoder().encode(JSON.stringify(publicJwk))),
      "wrong audience": await signJwt(
        env,
        { typ: "access" },
        { subject: userId, audience: "someone-else", ttlSeconds: 600 },
      ),
      "wrong issuer": await signJwt(
        { ...env, JWT_ISSUER: "evil" },
        { typ: "access" },
        { subject: userId, audience: env.JWT_AUDIENCE, ttlSeconds: 600 },
      ),
      expired: await signAccessToken(env, { userId, sessionId }, now - 3600),
      "no exp": await new SignJWT({ typ: "access" })
        .setProtectedHeader({ alg: "ES256", kid: signing.kid })
        .setSubject(userId)
        .setIssuer(env.JWT_ISSUER)
        .setAudience(env.JWT_AUDIENCE)
        .setIssuedAt()
        .sign(realKey),
      "a ticket as an access token": await signTicket(env, {
        userId,
        roomId: crypto.randomUUID(),
        sessionId,
        accessExpiresAt: now + 600,
      }),
      "no session": await signJwt(
        env,
        { typ: "access" },
        { subject: userId, audience: env.JWT_AUDIENCE, ttlSeconds: 600 },
      ),
      "no typ": await new SignJWT({ sub: userId })
        .setProtectedHeader({ alg: "ES256", kid: signing.kid })
        .setIssuer(env.JWT_ISSUER)
        .setAudience(env.JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(now + 600)
        .sign(realKey),
      "unknown kid": await new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "not-ours" })
        .sign(stranger.privateKey),
      "right kid, wrong key": await new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: signing.kid })
        .sign(await importJWK(strangerJwk, "ES256")),
      "a refresh token": (await register()).json.refreshToken,
      garbage: "aaa.bbb.ccc",
    };
  }

  it("refuses each forged or misused token on an authenticated route", async () => {
    const { json } = await register();
    const me = await call("GET", "/api/auth/me", undefined, { authorization: `Bearer ${json.accessToken}` });
    expect(me.res.status).toBe(200);
    const sessionId = JSON.parse(atob(json.accessToken.split(".")[1] as string)).sid as string;
    for (const [name, token] of Object.entries(await attacks(json.user.id, sessionId))) {
      const { res, json: body } = await call("GET", "/api/auth/me", undefined, { authorization: `Bearer ${token}` });
      expect(res.status, name).toBe(401);
      expect(res.headers.get("www-authenticate"), name).toMatch(/^Bearer/);
      expect(body.error?.code, name).toBe("unauthorized");
    }
  });
});

describe("password hashing", () => {
  it("stores its parameters with the hash and verifies only the right password", async () => {
    const stored = await hashPassword("hunter2hunter2", "pepper");
    expect(stored).toMatch(/^pbkdf2-sha256\$100000\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword("hunter2hunter2", stored, "pepper")).toBe(true);
    expect(await verifyPassword("hunter2hunter3", stored, "pepper")).toBe(false);
    // The pepper is part of the secret: the same password with another pepper fails.
    expect(await verifyPassword("hunter2hunter2", stored, "other pepper")).toBe(false);
  });

  it("never uses more PBKDF2 iterations than production Workers allow", async () => {
    expect(MAX_ITERATIONS).toBe(100_000);
    await expect(hashPassword("x".repeat(10), "p", MAX_ITERATIONS + 1)).rejects.toThrow(RangeError);
    await expect(verifyPassword("x", "pbkdf2-sha256$100001$AAAAAAAAAAAAAAAAAAAAAA$AAAA", "p")).rejects.toThrow(
      RangeError,
    );
  });
});
