/**
 * Integrations (issue 27), part 4: data rights and retention over REST. What exporting and deleting do is
 * in integrations/data-rights.ts; retention in integrations/retention.ts.
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { accountDeletions, dataExports } from "../../db/integration-schema";
import { users } from "../../db/schema";
import { logJson } from "../../lib/log";
import { deleteAccountBody, deletionReply, exportList, exportReply } from "../../protocol/data-rights";
import { AppError } from "../../protocol/errors";
import { idPath } from "../../protocol/params";
import { verifyPassword } from "../auth/password";
import { exportRows, exportView, requestExport, startAccountDeletion } from "../integrations/data-rights";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

export const dataRightsRoutes = new Hono<AppEnv>();

const EXPORT_NOT_FOUND = "Export not found";
const USER_NOT_FOUND = "User not found";
const _ROOM_NOT_FOUND = "Room not found";

async function exportAnswer<E extends AppEnv>(c: Context<E>, userId: string, requestedBy: string) {
  const { id, background } = await requestExport(c.env as Bindings, userId, requestedBy);
  const [row] = await exportRows(createDb(c.env as Bindings), userId, id);
  if (!row) throw new Error("the new export was not found");
  return { body: { export: exportView(row) }, status: background ? (202 as const) : (201 as const) };
}

/** The archive itself, streamed from R2; only while it has not expired. */
async function download(env: Bindings, row: typeof dataExports.$inferSelect | undefined): Promise<Response> {
  if (!row) throw new AppError(404, "not_found", EXPORT_NOT_FOUND);
  if (row.state !== "ready" || !row.r2Key) throw new AppError(409, "conflict", "The export is not ready yet");
  if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
    throw new AppError(404, "not_found", "The export has expired; ask for a new one");
  }
  const object = await env.ATTACHMENTS.get(row.r2Key);
  if (!object) throw new AppError(404, "not_found", "The export has expired; ask for a new one");
  const day = row.createdAt.toISOString().slice(0, 10);
  return new Response(object.body, {
    headers: {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(object.size),
      "content-disposition": `attachment; filename="edgechat-export-${day}.json"`,
      "cache-control": "no-store",
    },
  });
}

// --- the user's own -------------------------------------------------------------------------------

const exportMine = defineRoute({
  method: "post",
  path: "/api/me/export",
  summary: "Export my data as one JSON archive (at once for small accounts, in the background for large)",
  tag: "account",
  responses: {
    201: { description: "Ready to download", schema: exportReply },
    202: { description: "Being built; poll GET /api/me/exports/:id", schema: exportReply },
  },
});
handle(dataRightsRoutes, exportMine, async (c) => {
  const me = c.get("userId");
  const { body, status } = await exportAnswer(c, me, me);
  return c.json(body, status);
});

const myExports = defineRoute({
  method: "get",
  path: "/api/me/exports",
  summary: "My data exports, newest first",
  tag: "account",
  responses: { 200: { description: "Exports", schema: exportList } },
});
handle(dataRightsRoutes, myExports, async (c) => {
  const rows = await exportRows(createDb(c.env), c.get("userId"));
  return c.json({ exports: rows.map(exportView) });
});

const myExport = defineRoute({
  method: "get",
  path: "/api/me/exports/:id",
  summary: "One of my data exports",
  tag: "account",
  params: idPath,
  paramsError: EXPORT_NOT_FOUND,
  responses: { 200: { description: "The export", schema: exportReply } },
});
handle(dataRightsRoutes, myExport, async (c, { params }) => {
  const [row] = await exportRows(createDb(c.env), c.get("userId"), params.id.toLowerCase());
  if (!row) throw new AppError(404, "not_found", EXPORT_NOT_FOUND);
  return c.json({ export: exportView(row) });
});

const downloadMine = defineRoute({
  method: "get",
  path: "/api/me/exports/:id/download",
  summary: "Download one of my data exports",
  tag: "account",
  params: idPath,
  paramsError: EXPORT_NOT_FOUND,
  responses: { 200: { description: "The archive", contentType: "application/json" } },
});
handle(dataRightsRoutes, downloadMine, async (c, { params }) => {
  const [row] = await exportRows(createDb(c.env), c.get("userId"), params.id.toLowerCase());
  return download(c.env, row);
});

const deleteMine = defineRoute({
  method: "delete",
  path: "/api/me/account",
  summary: "Delete my account (tokens and sockets end now; the rest follows in the background)",
  tag: "account",
  body: deleteAccountBody,
  responses: { 202: { description: "Deletion under way", schema: deletionReply } },
});
handle(dataRightsRoutes, deleteMine, async (c, { body }) => {
  const me = c.get("userId");
  const db = createDb(c.env);
  const [user] = await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, me)).limit(1);
  if (!user || !(await verifyPassword(body.password, user.hash, c.env.PASSWORD_PEPPER))) {
    throw new AppError(403, "forbidden", "Wrong password");
  }
  await startAccountDeletion(c.env, me, me);
  return c.json(await deletionOf(c.env, me), 202);
});

// --- admins ----------------------------------------------------------------------------------------

async function deletionOf(env: Bindings, userId: string) {
  const [row] = await createDb(env).select().from(accountDeletions).where(eq(accountDeletions.userId, userId));
  if (!row) throw new AppError(404, "not_found", "No deletion of this account");
  return {
    deletion: {
      userId: row.userId,
      state: row.state,
      policy: row.policy,
      error: row.error,
      createdAt: row.createdAt.toISOString(),
      completedAt: row.completedAt?.toISOString() ?? null,
    },
  };
}

async function userExists(env: Bindings, id: string): Promise<void> {
  const [user] = await createDb(env).select({ id: users.id }).from(users).where(eq(users.id, id)).limit(1);
  if (!user) throw new AppError(404, "not_found", USER_NOT_FOUND);
}

const exportUser = defineRoute({
  method: "post",
  path: "/api/admin/users/:id/export",
  summary: "Export a user's data",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  responses: {
    201: { description: "Ready to download", schema: exportReply },
    202: { description: "Being built", schema: exportReply },
  },
});
handle(dataRightsRoutes, exportUser, async (c, { params }) => {
  const id = params.id.toLowerCase();
  await userExists(c.env, id);
  const { body, status } = await exportAnswer(c, id, c.get("userId"));
  logJson("info", { msg: "data export by admin", userId: id, admin: c.get("userId") });
  return c.json(body, status);
});

const userExports = defineRoute({
  method: "get",
  path: "/api/admin/users/:id/exports",
  summary: "A user's data exports",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  responses: { 200: { description: "Exports", schema: exportList } },
});
handle(dataRightsRoutes, userExports, async (c, { params }) => {
  const rows = await exportRows(createDb(c.env), params.id.toLowerCase());
  return c.json({ exports: rows.map(exportView) });
});

const downloadAny = defineRoute({
  method: "get",
  path: "/api/admin/exports/:id/download",
  summary: "Download any user's data export",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: EXPORT_NOT_FOUND,
  responses: { 200: { description: "The archive", contentType: "application/json" } },
});
handle(dataRightsRoutes, downloadAny, async (c, { params }) => {
  const [row] = await createDb(c.env).select().from(dataExports).where(eq(dataExports.id, params.id.toLowerCase()));
  return download(c.env, row);
});

const deleteUser = defineRoute({
  method: "delete",
  path: "/api/admin/users/:id",
  summary: "Delete a user's account (as they could themselves)",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  responses: { 202: { description: "Deletion under way", schema: deletionReply } },
});
handle(dataRightsRoutes, deleteUser, async (c, { params }) => {
  const id = params.id.toLowerCase();
  if (id === c.get("userId"))
    throw new AppError(409, "conflict", "Delete your own account with DELETE /api/me/account");
  if (!(await startAccountDeletion(c.env, id, c.get("userId")))) throw new AppError(404, "not_found", USER_NOT_FOUND);
  logJson("info", { msg: "account deletion by admin", userId: id, admin: c.get("userId") });
  return c.json(await deletionOf(c.env, id), 202);
});

const deletionStatus = defineRoute({
  method: "get",
  path: "/api/admin/users/:id/deletion",
  summary: "How far an account's deletion got",
  tag: "admin",
  auth: "admin",
  params: idPath,
  paramsError: USER_NOT_FOUND,
  responses: { 200: { description: "The deletion", schema: deletionReply } },
});
handle(dataRightsRoutes, deletionStatus, async (c, { params }) =>
  c.json(await deletionOf(c.env, params.id.toLowerCase())),
);
