import type { Context, MiddlewareHandler } from "hono";
import { verifyAccessToken } from "../../lib/jwt";
import { AppError } from "../../protocol/errors";
import type { AppEnv } from "../types";
import { checkLimits, perUser } from "./rate-limit";

export const UNAUTHORIZED_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="edgechat", error="invalid_token"' };

export function bearerToken(header: string | undefined): string | null {
  return /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header ?? "")?.[1] ?? null;
}

/**
 * Sets the caller's identity from a valid `Authorization: Bearer` access token; false (and nothing set)
 * when there is none or it does not verify. Verifies once per request.
 */
export async function tryAuthenticate(c: Context<AppEnv>): Promise<boolean> {
  if (c.get("userId")) return true;
  const token = bearerToken(c.req.header("authorization"));
  if (!token) return false;
  try {
    const claims = await verifyAccessToken(c.env, token);
    c.set("userId", claims.userId);
    c.set("tokenExpiresAt", claims.expiresAt);
    return true;
  } catch {
    return false;
  }
}

/** Requires `Authorization: Bearer <access token>`; every failure is the same 401 with a Bearer challenge. */
export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!(await tryAuthenticate(c))) {
    const malformed = !bearerToken(c.req.header("authorization"));
    throw malformed
      ? new AppError(401, "unauthorized", "Missing or malformed bearer token", {
          headers: { "WWW-Authenticate": 'Bearer realm="edgechat"' },
        })
      : new AppError(401, "unauthorized", "Invalid or expired token", { headers: UNAUTHORIZED_CHALLENGE });
  }
  // apiRateLimit has counted this user already; anything mounted outside /api counts here.
  if (!c.get("userLimited")) {
    await checkLimits(c, [perUser]);
    c.set("userLimited", true);
  }
  await next();
};
