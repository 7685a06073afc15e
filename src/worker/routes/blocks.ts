/**
 * A user blocks or unblocks another. The blocked person's messages, reactions and typing are hidden from
 * the blocker in every room they share (live, catch-up, history, search) and they are not notified of
 * them; a direct room between the two refuses sends either way. Blocking is never shown to the blocked.
 */
import { and, desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { createDb } from "../../db/client";
import { userBlocks } from "../../db/moderation-schema";
import { users } from "../../db/schema";
import { AppError } from "../../protocol/errors";
import { uuidParam } from "../../protocol/params";
import { blocksReply } from "../../protocol/responses/moderation";
import { applyBlockToSharedRooms } from "../blocks";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const blockRoutes = new Hono<AppEnv>();

const listBlocks = defineRoute({
  method: "get",
  path: "/api/me/blocks",
  summary: "People I block",
  tag: "blocks",
  responses: { 200: { description: "Newest first", schema: blocksReply } },
});
handle(blockRoutes, listBlocks, async (c) => {
  const rows = await createDb(c.env)
    .select({ userId: userBlocks.blockedId, displayName: users.displayName, createdAt: userBlocks.createdAt })
    .from(userBlocks)
    .innerJoin(users, eq(users.id, userBlocks.blockedId))
    .where(eq(userBlocks.blockerId, c.get("userId")))
    .orderBy(desc(userBlocks.createdAt));
  return c.json({ blocks: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })) });
});

const userPath = z.object({ userId: uuidParam });

const block = defineRoute({
  method: "put",
  path: "/api/me/blocks/:userId",
  summary: "Block a user",
  tag: "blocks",
  params: userPath,
  paramsError: "User not found",
  responses: { 204: { description: "Blocked (also when already blocked)" } },
});
handle(blockRoutes, block, async (c, { params: { userId } }) => {
  const me = c.get("userId");
  if (userId === me)
    throw new AppError(422, "unprocessable", "You cannot block yourself", {
      details: [{ field: "userId", message: "is you" }],
    });
  const db = createDb(c.env);
  const [found] = await db.select({ id: users.id }).from(users).where(eq(users.id, userId)).limit(1);
  if (!found) throw new AppError(404, "not_found", "User not found");
  await db.insert(userBlocks).values({ blockerId: me, blockedId: userId }).onConflictDoNothing();
  // Told again on a repeat, so a retry after a room could not be reached completes the block.
  await applyBlockToSharedRooms(c.env, me, userId, true);
  return c.body(null, 204);
});

const unblock = defineRoute({
  method: "delete",
  path: "/api/me/blocks/:userId",
  summary: "Unblock a user",
  tag: "blocks",
  params: userPath,
  paramsError: "User not found",
  responses: { 204: { description: "Unblocked (also when not blocked)" } },
});
handle(blockRoutes, unblock, async (c, { params: { userId } }) => {
  const me = c.get("userId");
  await createDb(c.env)
    .delete(userBlocks)
    .where(and(eq(userBlocks.blockerId, me), eq(userBlocks.blockedId, userId)));
  await applyBlockToSharedRooms(c.env, me, userId, false);
  return c.body(null, 204);
});
