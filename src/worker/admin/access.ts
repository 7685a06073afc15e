import { eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { createDb } from "../../db/client";
import { users } from "../../db/schema";
import { AppError } from "../../protocol/errors";
import { apiKeyOf, authenticate } from "../middleware/auth";
import type { AppEnv, Bindings } from "../types";

export function adminEmails(env: Bindings): Set<string> {
  return new Set(
    (env.ADMIN_EMAILS ?? "")
      .split(",")
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean),
  );
}

export function isAdmin(env: Bindings, user: { isAdmin: boolean; email: string; bannedAt: Date | null }): boolean {
  return !user.bannedAt && (user.isAdmin || adminEmails(env).has(user.email.toLowerCase()));
}

/**
 * Admin routes answer exactly like a route that does not exist to everyone else, with or without a
 * token, so the admin surface cannot be discovered or probed.
 */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const hidden = new AppError(404, "not_found", "No such route");
  const auth = await authenticate(c);
  if (!auth.ok) throw hidden;
  const { userId } = auth.claims;
  // Integrations: an API key is an admin exactly when it holds the `admin` scope.
  const key = await apiKeyOf(c);
  if (key) {
    if (!key.scopes.includes("admin")) throw hidden;
    c.set("userId", userId);
    return next();
  }
  const [user] = await createDb(c.env)
    .select({ isAdmin: users.isAdmin, email: users.email, bannedAt: users.bannedAt })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!user || !isAdmin(c.env, user)) throw hidden;
  c.set("userId", userId);
  await next();
};
