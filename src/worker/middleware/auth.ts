/**
 * Who is calling: a valid access token whose session is still live. Verified once per request and
 * remembered, so the rate limiter and the routes can each ask in any order and pay for it once.
 */
import type { Context, MiddlewareHandler } from "hono";
import { sessionState } from "../../db/sessions";
import { type AccessClaims, verifyAccessToken } from "../../lib/jwt";
import { AppError } from "../../protocol/errors";
import { KEY_SESSION_PREFIX, type KeyIdentity, looksLikeApiKey, lookupApiKey } from "../integrations/keys";
import type { AppEnv, Bindings } from "../types";

export const UNAUTHORIZED_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="edgechat", error="invalid_token"' };

export function bearerToken(header: string | undefined): string | null {
  return /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header ?? "")?.[1] ?? null;
}

export type Authentication =
  | { ok: true; claims: AccessClaims }
  | { ok: false; reason: "missing" | "invalid" | "ended" | "banned" };

async function verified(token: string | null, env: Bindings): Promise<AccessClaims | null> {
  if (!token) return null;
  try {
    return await verifyAccessToken(env, token);
  } catch {
    return null;
  }
}

async function judged(env: Bindings, claims: AccessClaims): Promise<Authentication> {
  const state = await sessionState(env, claims.sessionId, claims.userId);
  if (state === "revoked") return { ok: false, reason: "ended" };
  if (state === "banned") return { ok: false, reason: "banned" };
  return { ok: true, claims };
}

/** Verifies an access token and that its session has not ended (logout, replay) nor its user been banned. */
export async function authenticateToken(env: Bindings, token: string | null): Promise<Authentication> {
  const claims = await verified(token, env);
  if (!claims) return { ok: false, reason: token ? "invalid" : "missing" };
  return judged(env, claims);
}

interface Remembered {
  claims: Promise<AccessClaims | null>;
  auth?: Promise<Authentication>;
  /** Integrations (issue 27): set when the bearer credential is an API key (`ek_…`), not a JWT. */
  key?: Promise<KeyIdentity | null>;
}
const remembered = new WeakMap<Request, Remembered>();

function rememberedFor(c: Context<AppEnv>): Remembered {
  let r = remembered.get(c.req.raw);
  if (!r) {
    const token = bearerToken(c.req.header("authorization"));
    // --- API keys (issue 27): a key names its principal (a bot or service user); no session behind it.
    if (looksLikeApiKey(token)) {
      const key = lookupApiKey(c.env, token).catch((err: Error) => {
        throw new AppError(503, "unavailable", "Could not check the API key; retry", { details: err.message });
      });
      const claims = key.then((k) =>
        k ? { userId: k.principalId, sessionId: `${KEY_SESSION_PREFIX}${k.id}`, expiresAt: k.expiresAt } : null,
      );
      r = { key, claims };
    } else {
      r = { claims: verified(token, c.env) };
    }
    remembered.set(c.req.raw, r);
  }
  return r;
}

/** Integrations: the API key the request authenticated with, or null for a user's token (or none). */
export function apiKeyOf<E extends AppEnv>(c: Context<E>): Promise<KeyIdentity | null> {
  return rememberedFor(c as unknown as Context<AppEnv>).key ?? Promise.resolve(null);
}

/**
 * The bearer token's signed claims, before the session check: enough to name the caller for a rate
 * limit, which can then run alongside the session check instead of after it. Never enough to act on.
 */
export function tokenClaims(c: Context<AppEnv>): Promise<AccessClaims | null> {
  return rememberedFor(c).claims;
}

/** The request's bearer token, authenticated once; on success the caller's identity is set on the context. */
export function authenticate(c: Context<AppEnv>): Promise<Authentication> {
  const r = rememberedFor(c);
  r.auth ??= r.claims.then(async (claims): Promise<Authentication> => {
    if (!claims) return { ok: false, reason: bearerToken(c.req.header("authorization")) ? "invalid" : "missing" };
    // A key was checked (revocation, expiry, ban) by its lookup: there is no session to judge.
    const auth: Authentication = r.key ? { ok: true, claims } : await judged(c.env, claims);
    if (auth.ok) {
      c.set("userId", auth.claims.userId);
      c.set("sessionId", auth.claims.sessionId);
      c.set("tokenExpiresAt", auth.claims.expiresAt);
    }
    return auth;
  });
  return r.auth;
}

/** The 401 for a failed authentication: always with a Bearer challenge, never saying more than needed. */
export function unauthenticated(reason: Exclude<Authentication, { ok: true }>["reason"]): AppError {
  if (reason === "missing") {
    return new AppError(401, "unauthorized", "Missing or malformed bearer token", {
      headers: { "WWW-Authenticate": 'Bearer realm="edgechat"' },
    });
  }
  const message =
    reason === "banned"
      ? "This account is suspended"
      : reason === "ended"
        ? "This session has ended; sign in again"
        : "Invalid or expired token";
  return new AppError(401, "unauthorized", message, { headers: UNAUTHORIZED_CHALLENGE });
}

/** Requires `Authorization: Bearer <access token>` of a live session. */
export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const auth = await authenticate(c);
  if (!auth.ok) throw unauthenticated(auth.reason);
  await next();
};
