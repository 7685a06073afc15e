/**
 * Integrations (issue 27): how long a room keeps its messages. The deployment sets RETENTION_DAYS (0:
 * forever); a room may have its own lifetime. Deployment admins set any lifetime; a room's owner may only
 * shorten it (a team that must keep messages for a year cannot have an owner extend that, and an owner
 * whose room should forget sooner need not ask an admin). The hourly job in integrations/retention.ts
 * removes what has expired, leaving tombstones in the room's change log.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { roomRetention } from "../../db/integration-schema";
import { rooms } from "../../db/schema";
import { wholeSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import { retentionBody, retentionReply } from "../../protocol/data-rights";
import { AppError } from "../../protocol/errors";
import { idPath } from "../../protocol/params";
import { requireRole } from "../room-access";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

export const retentionRoutes = new Hono<AppEnv>();

const ROOM_NOT_FOUND = "Room not found";

async function retentionOf(env: Bindings, roomId: string) {
  const [room] = await createDb(env)
    .select({ id: rooms.id, days: roomRetention.days, maxDays: roomRetention.maxDays })
    .from(rooms)
    .leftJoin(roomRetention, eq(roomRetention.roomId, rooms.id))
    .where(eq(rooms.id, roomId))
    .limit(1);
  if (!room) throw new AppError(404, "not_found", ROOM_NOT_FOUND);
  const deploymentDays = wholeSetting(env, "RETENTION_DAYS");
  // The longest an owner may choose: an admin's lifetime for the room, else the deployment's (0: none).
  const ownerMaxDays = room.maxDays ?? deploymentDays;
  return {
    roomId: room.id,
    days: room.days,
    deploymentDays,
    effectiveDays: room.days ?? deploymentDays,
    adminDays: room.maxDays,
    ownerMaxDays,
  };
}

/** `days` null: no lifetime of the room's own; `maxDays`: an admin's, binding the owner (null: none). */
async function setRetention(env: Bindings, roomId: string, days: number | null, maxDays: number | null, by: string) {
  const db = createDb(env);
  if (days === null) await db.delete(roomRetention).where(eq(roomRetention.roomId, roomId));
  else
    await db
      .insert(roomRetention)
      .values({ roomId, days, maxDays, updatedBy: by })
      .onConflictDoUpdate({
        target: roomRetention.roomId,
        set: { days, maxDays, updatedBy: by, updatedAt: new Date() },
      });
  logJson("info", { msg: "room retention set", roomId, days, maxDays, by });
  return retentionOf(env, roomId);
}

// --- deployment admins: any lifetime ---------------------------------------------------------------

const adminSpec = (method: "get" | "put" | "delete", summary: string) =>
  ({
    method,
    path: "/api/admin/rooms/:id/retention",
    summary,
    tag: "admin",
    auth: "admin",
    params: idPath,
    paramsError: ROOM_NOT_FOUND,
  }) as const;

const adminGet = defineRoute({
  ...adminSpec("get", "A room's message lifetime (its own, or the deployment's)"),
  responses: { 200: { description: "Retention", schema: retentionReply } },
});
handle(retentionRoutes, adminGet, async (c, { params }) => c.json(await retentionOf(c.env, params.id.toLowerCase())));

const adminPut = defineRoute({
  ...adminSpec("put", "Keep this room's messages for this many days (the hourly job removes older ones)"),
  body: retentionBody,
  responses: { 200: { description: "Retention", schema: retentionReply } },
});
handle(retentionRoutes, adminPut, async (c, { params, body }) => {
  const roomId = params.id.toLowerCase();
  await retentionOf(c.env, roomId);
  return c.json(await setRetention(c.env, roomId, body.days, body.days, c.get("userId")));
});

const adminDelete = defineRoute({
  ...adminSpec("delete", "Back to the deployment's message lifetime"),
  responses: { 200: { description: "Retention", schema: retentionReply } },
});
handle(retentionRoutes, adminDelete, async (c, { params }) => {
  const roomId = params.id.toLowerCase();
  await retentionOf(c.env, roomId);
  return c.json(await setRetention(c.env, roomId, null, null, c.get("userId")));
});

// --- room owners: shorter only ---------------------------------------------------------------------

const ownerSpec = (method: "get" | "put" | "delete", summary: string) =>
  ({ method, path: "/api/rooms/:id/retention", summary, tag: "rooms", member: "id", params: idPath }) as const;

const roomGet = defineRoute({
  ...ownerSpec("get", "How long this room keeps its messages (any member may ask)"),
  responses: { 200: { description: "Retention", schema: retentionReply } },
});
handle(retentionRoutes, roomGet, async (c, { member: { room } }) => c.json(await retentionOf(c.env, room.id)));

const roomPut = defineRoute({
  ...ownerSpec("put", "Owners: keep this room's messages for fewer days than the deployment does"),
  body: retentionBody,
  responses: { 200: { description: "Retention", schema: retentionReply } },
});
handle(retentionRoutes, roomPut, async (c, { member: { room, role }, body }) => {
  requireRole(role, "owner", "change how long messages are kept");
  const { ownerMaxDays, adminDays } = await retentionOf(c.env, room.id);
  if (ownerMaxDays > 0 && body.days > ownerMaxDays) {
    throw new AppError(422, "unprocessable", `Messages here are kept at most ${ownerMaxDays} days; only shorter`, {
      details: [{ field: "days", message: `at most ${ownerMaxDays}` }],
    });
  }
  // An admin's ceiling stays whatever the owner picks under it.
  return c.json(await setRetention(c.env, room.id, body.days, adminDays, c.get("userId")));
});

const roomDelete = defineRoute({
  ...ownerSpec(
    "delete",
    "Owners: back to the longest allowed (an admin's lifetime for the room, else the deployment's)",
  ),
  responses: { 200: { description: "Retention", schema: retentionReply } },
});
handle(retentionRoutes, roomDelete, async (c, { member: { room, role } }) => {
  requireRole(role, "owner", "change how long messages are kept");
  const { adminDays } = await retentionOf(c.env, room.id);
  return c.json(await setRetention(c.env, room.id, adminDays, adminDays, c.get("userId")));
});
