/**
 * Access tokens: ES256 JWTs signed with one key and verified against a key set, so keys rotate by adding
 * the new public key to JWT_VERIFY_KEYS, then switching JWT_SIGNING_KEY, then dropping the old key.
 */
import { createLocalJWKSet, importJWK, type JSONWebKeySet, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
// With its extension: the benchmarks load this file in Node directly, which resolves no bare paths.
import { positiveSetting } from "./config.ts";

/** Pinned: verification never accepts any other algorithm (no `none`, no HS256 confusion). */
export const JWT_ALG = "ES256";
export const ACCESS_TOKEN_TYP = "access";

export interface JwtEnv {
  JWT_SIGNING_KEY: string;
  JWT_VERIFY_KEYS: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  ACCESS_TOKEN_TTL_SECONDS?: string;
}

export interface AccessClaims {
  userId: string;
  /** The session (sessions.id) the token was minted in: logging out ends the token with it. */
  sessionId: string;
  expiresAt: number;
}

const verifierCache = new Map<string, ReturnType<typeof createLocalJWKSet>>();

function verifier(keysJson: string) {
  let jwks = verifierCache.get(keysJson);
  if (!jwks) {
    jwks = createLocalJWKSet(JSON.parse(keysJson) as JSONWebKeySet);
    verifierCache.set(keysJson, jwks);
  }
  return jwks;
}

/** Signs claims with the current signing key; `typ` keeps token kinds from standing in for each other. */
export async function signJwt(
  env: JwtEnv,
  claims: JWTPayload & { typ: string },
  o: { subject: string; audience: string; ttlSeconds: number; now?: number },
): Promise<string> {
  const jwk = JSON.parse(env.JWT_SIGNING_KEY) as JWK;
  if (!jwk.kid) throw new Error("JWT_SIGNING_KEY must carry a kid");
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const key = await importJWK(jwk, JWT_ALG);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: JWT_ALG, kid: jwk.kid, typ: "JWT" })
    .setIssuer(env.JWT_ISSUER)
    .setAudience(o.audience)
    .setSubject(o.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + o.ttlSeconds)
    .sign(key);
}

/** Verifies signature (ES256 only, key by kid), issuer, audience, exp/iat/sub and the token kind. */
export async function verifyJwt<T extends JWTPayload>(env: JwtEnv, token: string, audience: string, typ: string) {
  const { payload } = await jwtVerify<T & { typ?: string }>(token, verifier(env.JWT_VERIFY_KEYS), {
    algorithms: [JWT_ALG],
    issuer: env.JWT_ISSUER,
    audience,
    requiredClaims: ["exp", "iat", "sub"],
  });
  if (payload.typ !== typ) throw new TypeError(`not a ${typ} token`);
  return payload;
}

export async function signAccessToken(
  env: JwtEnv,
  session: { userId: string; sessionId: string },
  now = Math.floor(Date.now() / 1000),
) {
  const ttlSeconds = positiveSetting(env, "ACCESS_TOKEN_TTL_SECONDS");
  return signJwt(
    env,
    { typ: ACCESS_TOKEN_TYP, sid: session.sessionId },
    { subject: session.userId, audience: env.JWT_AUDIENCE, ttlSeconds, now },
  );
}

/** Throws a jose error (with a stable `code`) for anything that is not a valid, current access token. */
export async function verifyAccessToken(env: JwtEnv, token: string): Promise<AccessClaims> {
  const payload = await verifyJwt<{ sid?: unknown }>(env, token, env.JWT_AUDIENCE, ACCESS_TOKEN_TYP);
  // A token without a session could never be logged out.
  if (typeof payload.sid !== "string") throw new TypeError("access token carries no session");
  return { userId: payload.sub as string, sessionId: payload.sid, expiresAt: payload.exp as number };
}
