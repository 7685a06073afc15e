import type { MiddlewareHandler } from "hono";
import { AppError } from "../../protocol/errors";
import { verifyAccessToken } from "../auth/jwt";
import type { AppEnv } from "../types";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="edgechat", error="invalid_token"' };

/** Requires `Authorization: Bearer <access token>`; every failure is the same 401 with a Bearer challenge. */
export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const token = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header)?.[1];
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
    throw new AppError(401, "unauthorized", "Invalid or expired token", { headers: CHALLENGE });
  }
  await next();
};
