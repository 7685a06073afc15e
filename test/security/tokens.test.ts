/**
 * Token forgery and confusion (OWASP API2): every token below is wrong in exactly one way, and each is
 * refused with 401 `unauthorized` by a route that needs a signed-in user, and by the socket upgrade.
 */
import { env, exports } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signAccessToken, signJwt } from "../../src/lib/jwt";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { TestSocket } from "../helpers/sockets";

const b64 = (v: unknown) =>
  btoa(typeof v === "string" ? v : JSON.stringify(v))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
const kid = () => (JSON.parse(env.JWT_SIGNING_KEY) as { kid: string }).kid;
const now = () => Math.floor(Date.now() / 1000);
const claims = (sub: string) => ({
  typ: "access",
  sub,
  iss: env.JWT_ISSUER,
  aud: env.JWT_AUDIENCE,
  iat: now(),
  exp: now() + 600,
});

async function hs256(secret: string, payload: object, header: object) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const input = `${b64(header)}.${b64(payload)}`;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
  return `${input}.${b64(String.fromCharCode(...mac))}`;
}

async function refused(token: string, what: string) {
  const res = await api("GET", "/api/auth/me", token);
  expect(res.status, what).toBe(401);
  expect(res.json.error.code, what).toBe("unauthorized");
}

describe("forged and confused tokens", () => {
  it("accepts the genuine token (control)", async () => {
    const ana = await createUser("ana");
    expect((await api("GET", "/api/auth/me", ana.token)).status).toBe(200);
  });

  it("refuses alg none, with and without a signature", async () => {
    const ana = await createUser("ana");
    for (const alg of ["none", "None", "NONE"]) {
      const unsigned = `${b64({ alg, typ: "JWT", kid: kid() })}.${b64(claims(ana.id))}`;
      await refused(`${unsigned}.`, alg);
      await refused(`${unsigned}.${ana.token.split(".")[2]}`, `${alg} with a stolen signature`);
    }
  });

  it("refuses HS256 keyed with the public key (algorithm confusion)", async () => {
    const ana = await createUser("ana");
    const publicJwk = JSON.stringify((JSON.parse(env.JWT_VERIFY_KEYS) as { keys: unknown[] }).keys[0]);
    for (const secret of [env.JWT_VERIFY_KEYS, publicJwk]) {
      await refused(await hs256(secret, claims(ana.id), { alg: "HS256", typ: "JWT", kid: kid() }), "HS256");
    }
  });

  it("refuses a token signed by another ES256 key under our kid", async () => {
    const ana = await createUser("ana");
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(claims(ana.id)).setProtectedHeader({ alg: "ES256", kid: kid() }).sign(privateKey);
    await refused(forged, "foreign key");
    // And an embedded key (jwk header) is not trusted either.
    const { publicKey, privateKey: own } = await generateKeyPair("ES256", { extractable: true });
    const embedded = await new SignJWT(claims(ana.id))
      .setProtectedHeader({ alg: "ES256", jwk: await exportJWK(publicKey) })
      .sign(own);
    await refused(embedded, "embedded jwk");
  });

  it("refuses wrong issuer, wrong audience, expired, wrong kind and edited claims", async () => {
    const ana = await createUser("ana");
    const eve = await createUser("eve");
    const o = { subject: ana.id, audience: env.JWT_AUDIENCE, ttlSeconds: 600 };
    await refused(await signJwt({ ...env, JWT_ISSUER: "https://evil.example" }, { typ: "access" }, o), "issuer");
    await refused(await signJwt(env, { typ: "access" }, { ...o, audience: "edgechat-ws" }), "audience");
    await refused(await signAccessToken(env, { userId: ana.id, sessionId: ana.sessionId }, now() - 3600), "expired");
    await refused(await signJwt(env, { typ: "ws-ticket", room: "x" }, o), "a ticket's typ");
    await refused(await signJwt(env, { typ: "refresh" }, o), "refresh typ");
    await refused(await signJwt(env, {} as { typ: string }, o), "no typ");
    // Someone else's id pasted into a genuine token breaks its signature.
    const [h, p, s] = ana.token.split(".") as [string, string, string];
    const payload = JSON.parse(atob(p.replaceAll("-", "+").replaceAll("_", "/")));
    await refused(`${h}.${b64({ ...payload, sub: eve.id })}.${s}`, "edited sub");
    await refused(`${h}.${b64({ ...payload, exp: now() + 86400 * 365 })}.${s}`, "edited exp");
    await refused(ana.token.slice(0, -2), "truncated signature");
  });

  it("refuses a refresh token, garbage and odd schemes as bearer tokens", async () => {
    const email = `mallory-${crypto.randomUUID()}@example.test`;
    const reg = await api("POST", "/api/auth/register", undefined, {
      email,
      displayName: "Mallory",
      password: "correct horse battery staple",
    });
    expect(reg.status).toBe(201);
    await refused(reg.json.refreshToken, "refresh token as access token");
    for (const junk of ["", "null", "undefined", "a.b.c", "..", "x".repeat(5000)]) await refused(junk, `junk ${junk}`);
    const res = await exports.default.fetch("http://edgechat.test/api/auth/me", {
      headers: { authorization: `Basic ${btoa("a:b")}` },
    });
    expect(res.status).toBe(401);
  });
});

describe("socket tickets", () => {
  const ticketFor = async (roomId: string, token: string) =>
    (await api("POST", `/api/rooms/${roomId}/ws-ticket`, token)).json.ticket as string;
  const open = (roomId: string, query: string, headers: Record<string, string> = {}) =>
    exports.default.fetch(`http://edgechat.test/api/rooms/${roomId}/ws?${query}`, {
      headers: { upgrade: "websocket", origin: "http://localhost:8787", ...headers },
    });

  it("opens one socket per ticket; a reused ticket, another room's ticket or an access token as ticket is 401", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const other = await createRoom(ana.id);
    const ticket = await ticketFor(room.id, ana.token);
    const first = await open(room.id, `ticket=${encodeURIComponent(ticket)}`);
    expect(first.status).toBe(101);
    const socket = new TestSocket(first.webSocket as WebSocket);
    await socket.next("welcome");
    socket.close();
    expect((await open(room.id, `ticket=${encodeURIComponent(ticket)}`)).status).toBe(401);
    const second = await ticketFor(room.id, ana.token);
    expect((await open(other.id, `ticket=${encodeURIComponent(second)}`)).status).toBe(401);
    expect((await open(room.id, `ticket=${encodeURIComponent(ana.token)}`)).status).toBe(401);
    // A ticket is not an access token on REST routes either.
    await refused(second, "ticket as bearer");
  });
});
