/**
 * Integrations (issue 27), part 3: phones registered for native push. A token names one app install, so
 * registering it again (also from another account, after a sign-out and sign-in) moves it to the caller.
 * Notifications reach every registered device of a user whose push channel is on, on the platforms the
 * deployment has credentials for (see integrations/push); tokens the service reports dead are removed.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { type PushDevice, pushDevices } from "../../db/integration-schema";
import { deviceList, deviceReply, registerDeviceBody } from "../../protocol/devices";
import { AppError } from "../../protocol/errors";
import { idPath } from "../../protocol/params";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const deviceRoutes = new Hono<AppEnv>();

const NOT_FOUND = "Device not found";

function view(d: PushDevice) {
  return {
    id: d.id,
    platform: d.platform,
    tokenSuffix: d.token.slice(-8),
    apnsEnvironment: d.apnsEnvironment,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

const register = defineRoute({
  method: "post",
  path: "/api/me/devices",
  summary: "Register this phone for push (FCM registration token or APNs device token)",
  tag: "notifications",
  body: registerDeviceBody,
  responses: {
    201: { description: "Registered", schema: deviceReply },
    200: { description: "Already registered to you (its environment updated)", schema: deviceReply },
  },
});
handle(deviceRoutes, register, async (c, { body }) => {
  const userId = c.get("userId");
  const token = body.platform === "apns" ? body.token.toLowerCase() : body.token;
  const apnsEnvironment = body.platform === "apns" ? body.apnsEnvironment : null;
  const db = createDb(c.env);
  const [before] = await db
    .select({ userId: pushDevices.userId })
    .from(pushDevices)
    .where(and(eq(pushDevices.platform, body.platform), eq(pushDevices.token, token)))
    .limit(1);
  const [row] = await db
    .insert(pushDevices)
    .values({ userId, platform: body.platform, token, apnsEnvironment })
    .onConflictDoUpdate({
      target: [pushDevices.platform, pushDevices.token],
      set: {
        userId,
        apnsEnvironment,
        updatedAt: sql`now()`,
        // A token moving to another account is a new registration: a new id, so the old owner's jobs find nothing.
        id: sql`case when ${pushDevices.userId} = ${userId}::uuid then ${pushDevices.id} else gen_random_uuid() end`,
      },
    })
    .returning();
  if (!row) throw new Error("upsert returned nothing");
  return c.json({ device: view(row) }, before?.userId === userId ? 200 : 201);
});

const list = defineRoute({
  method: "get",
  path: "/api/me/devices",
  summary: "My phones registered for push",
  tag: "notifications",
  responses: { 200: { description: "Devices", schema: deviceList } },
});
handle(deviceRoutes, list, async (c) => {
  const rows = await createDb(c.env)
    .select()
    .from(pushDevices)
    .where(eq(pushDevices.userId, c.get("userId")))
    .orderBy(desc(pushDevices.createdAt))
    .limit(100);
  return c.json({ devices: rows.map(view) });
});

const remove = defineRoute({
  method: "delete",
  path: "/api/me/devices/:id",
  summary: "Stop pushing to one of my phones",
  tag: "notifications",
  params: idPath,
  paramsError: NOT_FOUND,
  responses: { 204: { description: "Removed" } },
});
handle(deviceRoutes, remove, async (c, { params }) => {
  const [gone] = await createDb(c.env)
    .delete(pushDevices)
    .where(and(eq(pushDevices.id, params.id.toLowerCase()), eq(pushDevices.userId, c.get("userId"))))
    .returning({ id: pushDevices.id });
  // Someone else's device answers like one that does not exist.
  if (!gone) throw new AppError(404, "not_found", NOT_FOUND);
  return c.body(null, 204);
});
