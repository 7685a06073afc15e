import { eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb, type Db } from "../../db/client";
import { notifications } from "../../db/notification-schema";
import { type User, users } from "../../db/schema";
import { revokeSession } from "../../db/sessions";
import { positiveSetting } from "../../lib/config";
import { signAccessToken } from "../../lib/jwt";
import { logJson } from "../../lib/log";
import { loginBody, refreshBody, registerBody, updateMeBody } from "../../protocol/auth";
import { AppError } from "../../protocol/errors";
import { meReply, signedIn, tokens as tokensReply, userReply } from "../../protocol/responses/auth";
import { accountKey, accountLocked, chargeAttempt, clearFailures, loginGuardSettings } from "../auth/login-guard";
import { decoyHash, hashPassword, verifyPassword } from "../auth/password";
import { rotateRefreshToken, sessionOf, startSession } from "../auth/refresh-tokens";
import { UNAUTHORIZED_CHALLENGE } from "../middleware/auth";
import { screenDisplayName } from "../moderation/display-names";
import { unreadFor } from "../notify/views";
import { disconnectEverywhere } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

export const auth = new Hono<AppEnv>();

function publicUser(u: User) {
  return { id: u.id, email: u.email, displayName: u.displayName, kind: u.kind, createdAt: u.createdAt.toISOString() };
}

async function tokens(env: Bindings, db: Db, userId: string) {
  const session = await startSession(db, userId);
  // Banned between the password check and now: the ban wins.
  if (!session) throw new AppError(403, "forbidden", "This account is suspended");
  return {
    tokenType: "Bearer" as const,
    accessToken: await signAccessToken(env, { userId, sessionId: session.sessionId }),
    expiresIn: positiveSetting(env, "ACCESS_TOKEN_TTL_SECONDS"),
    refreshToken: session.token,
  };
}

function unauthorized(message: string): AppError {
  return new AppError(401, "unauthorized", message, { headers: UNAUTHORIZED_CHALLENGE });
}

const register = defineRoute({
  method: "post",
  path: "/api/auth/register",
  summary: "Create an account and sign in",
  tag: "auth",
  auth: "none",
  body: registerBody,
  responses: {
    201: { description: "The account and its tokens (a display name may come back masked)", schema: signedIn },
  },
});
handle(auth, register, async (c, { body }) => {
  const db = createDb(c.env);
  const displayName = await screenDisplayName(db, body.displayName);
  const passwordHash = await hashPassword(body.password, c.env.PASSWORD_PEPPER);
  const inserted = await db
    .insert(users)
    .values({ email: body.email, displayName, passwordHash })
    .onConflictDoNothing()
    .returning();
  const user = inserted[0];
  if (!user) {
    throw new AppError(409, "conflict", "An account with this email already exists", {
      details: [{ field: "email", message: "already registered" }],
    });
  }
  c.set("userId", user.id);
  return c.json({ user: publicUser(user), ...(await tokens(c.env, db, user.id)) }, 201);
});

const login = defineRoute({
  method: "post",
  path: "/api/auth/login",
  summary: "Sign in",
  tag: "auth",
  auth: "none",
  body: loginBody,
  responses: { 200: { description: "The account and its tokens", schema: signedIn } },
});
handle(auth, login, async (c, { body }) => {
  const db = createDb(c.env);
  const key = accountKey(body.email);
  // One round trip: the attempt is charged to the account (known or not) as it is looked up.
  const [[attempt], [user]] = await db.batch([
    chargeAttempt(db, key, loginGuardSettings(c.env)),
    db.select().from(users).where(sql`lower(${users.email}) = lower(${body.email})`).limit(1),
  ]);
  // Locked: refused before any password work, for known and unknown accounts alike.
  if (!attempt?.charged) throw accountLocked(attempt?.retryAfterMs ?? 1000);
  // Unknown emails cost a hash check too, so timing does not reveal which accounts exist.
  const ok = await verifyPassword(
    body.password,
    user?.passwordHash ?? (await decoyHash(c.env.PASSWORD_PEPPER)),
    c.env.PASSWORD_PEPPER,
  );
  if (!user || !ok) throw unauthorized("Email or password is wrong");
  await clearFailures(db, key);
  // Said only to someone who knows the password, so it reveals nothing about which accounts exist.
  if (user.bannedAt) throw new AppError(403, "forbidden", "This account is suspended");
  c.set("userId", user.id);
  return c.json({ user: publicUser(user), ...(await tokens(c.env, db, user.id)) });
});

const refresh = defineRoute({
  method: "post",
  path: "/api/auth/refresh",
  summary: "Rotate a refresh token for new tokens",
  tag: "auth",
  auth: "none",
  body: refreshBody,
  responses: { 200: { description: "New tokens; the old refresh token no longer works", schema: tokensReply } },
});
handle(auth, refresh, async (c, { body: { refreshToken } }) => {
  const db = createDb(c.env);
  const rotated = await rotateRefreshToken(db, refreshToken);
  if (!rotated.ok) {
    if (rotated.reason === "banned") throw new AppError(403, "forbidden", "This account is suspended");
    if (rotated.reason === "reused") {
      // A used token came back: it leaked, so everything minted in its session dies, the winner of a
      // concurrent refresh included.
      await revokeSession(c.env, db, rotated.sessionId);
      await disconnectEverywhere(c.env, db, rotated.userId, "logged_out");
      logJson("warn", { msg: "refresh token reused; session revoked", requestId: c.get("requestId") });
    }
    throw unauthorized("Refresh token is not valid");
  }
  c.set("userId", rotated.userId);
  return c.json({
    tokenType: "Bearer",
    accessToken: await signAccessToken(c.env, { userId: rotated.userId, sessionId: rotated.sessionId }),
    expiresIn: positiveSetting(c.env, "ACCESS_TOKEN_TTL_SECONDS"),
    refreshToken: rotated.token,
  });
});

const logout = defineRoute({
  method: "post",
  path: "/api/auth/logout",
  summary: "Revoke the session and close its sockets",
  tag: "auth",
  auth: "none",
  body: refreshBody,
  responses: { 204: { description: "Signed out (also for an unknown or used token)" } },
});
handle(auth, logout, async (c, { body: { refreshToken } }) => {
  const db = createDb(c.env);
  const session = await sessionOf(db, refreshToken);
  if (session) {
    await revokeSession(c.env, db, session.sessionId);
    await disconnectEverywhere(c.env, db, session.userId, "logged_out");
  }
  // Logging out twice, or with an unknown token, is not an error: the session is over either way.
  return c.body(null, 204);
});

const getMe = defineRoute({
  method: "get",
  path: "/api/auth/me",
  summary: "My account and my unread notification count",
  tag: "auth",
  responses: { 200: { description: "My account", schema: meReply } },
});
handle(auth, getMe, async (c) => {
  const me = c.get("userId");
  const db = createDb(c.env);
  const [[user], [unread]] = await db.batch([
    db.select().from(users).where(eq(users.id, me)).limit(1),
    db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(unreadFor(me)),
  ]);
  if (!user) throw unauthorized("Account no longer exists");
  return c.json({ user: publicUser(user), unreadNotifications: unread?.n ?? 0 });
});

const updateMe = defineRoute({
  method: "patch",
  path: "/api/auth/me",
  summary: "Change my display name",
  tag: "auth",
  body: updateMeBody,
  responses: { 200: { description: "My account (the display name may come back masked)", schema: userReply } },
});
handle(auth, updateMe, async (c, { body }) => {
  const db = createDb(c.env);
  const displayName = await screenDisplayName(db, body.displayName);
  const [user] = await db
    .update(users)
    .set({ displayName, updatedAt: new Date() })
    .where(eq(users.id, c.get("userId")))
    .returning();
  if (!user) throw unauthorized("Account no longer exists");
  return c.json({ user: publicUser(user) });
});
