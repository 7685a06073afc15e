import type { MiddlewareHandler } from "hono";
import { AppError } from "../../protocol/errors";
import { verifyAccessToken } from "../auth/jwt";
import type { AppEnv } from "../types";
import { checkLimit, perUser } from "./rate-limit";

export const UNAUTHORIZED_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="edgechat", error="invalid_token"' };

export function bearerToken(header: string | undefined): string | null {
  return /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header ?? "")?.[1] ?? null;
}

/** Requires `Authorization: Bearer <access token>`; every failure is the same 401 with a Bearer challenge. */
export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  // Several route groups guard the same paths; verify once per request.
  if (c.get("userId")) return next();
  const token = bearerToken(c.req.header("authorization"));
  if (!token) {
    throw new AppError(401, "unauthorized", "Missing or malformed bearer token", {
      headers: { "WWW-Authenticate": 'Bearer realm="edgechat"' },
    });
  }
  try {
    const claims = await verifyAccessToken(c.env, token);
    c.set("userId", claims.userId);
    c.set("tokenExpiresAt", claims.expiresAt);
  } catch {
    throw new AppError(401, "unauthorized", "Invalid or expired token", { headers: UNAUTHORIZED_CHALLENGE });
  }
  await checkLimit(c, perUser);
  await next();
};
