/**
 * Attachments: announce (POST, member of the room), upload the bytes (PUT, streamed into R2), download
 * (GET, members only, with ranges and ETag). A message then references the attachment id.
 */
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { type Attachment, attachments } from "../../db/attachment-schema";
import { createDb } from "../../db/client";
import {
  attachmentPolicy,
  contentDisposition,
  mediaType,
  parseRange,
  sanitizeFilename,
} from "../../lib/attachment-policy";
import { AppError } from "../../protocol/errors";
import { idPath } from "../../protocol/params";
import { announcedReply, attachmentReply } from "../../protocol/responses/attachments";
import { createAttachmentBody } from "../../protocol/rooms";
import { discardBody } from "../attachments/discard";
import { streamToR2, UploadIncomplete, UploadTooLarge } from "../attachments/store";
import { requireUser } from "../middleware/auth";
import { memberRole, roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv, Bindings } from "../types";

export const attachmentRoutes = new Hono<AppEnv>();
attachmentRoutes.use("/api/attachments/*", requireUser);
attachmentRoutes.use("/api/rooms/:id/attachments", requireUser);

const NOT_FOUND = "Attachment not found";
const notFound = () => new AppError(404, "not_found", NOT_FOUND);

function view(a: Attachment) {
  return {
    id: a.id,
    roomId: a.roomId,
    filename: a.filename,
    contentType: a.contentType,
    size: a.size,
    sha256: a.sha256,
    state: a.state,
    uploadUrl: `/api/attachments/${a.id}/content`,
    url: `/api/attachments/${a.id}`,
    createdAt: a.createdAt.toISOString(),
  };
}

const announceFile = defineRoute({
  method: "post",
  path: "/api/rooms/:id/attachments",
  summary: "Announce a file (name, type, size); answers the id and the URL to PUT the bytes to",
  tag: "attachments",
  member: "id",
  params: idPath,
  body: createAttachmentBody,
  responses: { 201: { description: "The attachment and where to upload it", schema: announcedReply } },
});
handle(attachmentRoutes, announceFile, async (c, { member: { room }, body }) => {
  const policy = attachmentPolicy(c.env);
  const contentType = mediaType(body.contentType);
  if (!policy.types.has(contentType)) {
    throw new AppError(415, "unsupported_media_type", `${contentType} files are not accepted here`, {
      details: { allowed: [...policy.types] },
    });
  }
  if (body.size > policy.maxBytes) {
    throw new AppError(413, "payload_too_large", `Files are limited to ${policy.maxBytes} bytes`);
  }
  const id = crypto.randomUUID();
  const [row] = await createDb(c.env)
    .insert(attachments)
    .values({
      id,
      roomId: room.id,
      uploaderId: c.get("userId"),
      filename: sanitizeFilename(body.filename),
      contentType,
      size: body.size,
      r2Key: `rooms/${room.id}/${id}`,
    })
    .returning();
  if (!row) throw new AppError(500, "internal", "Attachment not recorded");
  return c.json({ attachment: view(row), upload: { method: "PUT", url: view(row).uploadUrl } }, 201);
});

const upload = defineRoute({
  method: "put",
  path: "/api/attachments/:id/content",
  summary: "Upload the bytes (raw body with the announced Content-Type), streamed into R2",
  tag: "attachments",
  params: idPath,
  // Refused before the body is touched: wrangler dev's own middleware drains an untouched body.
  paramsError: NOT_FOUND,
  responses: { 200: { description: "The attachment with its sha256", schema: attachmentReply } },
});
handle(attachmentRoutes, upload, async (c, { params: { id } }) => {
  const discardLimit = attachmentPolicy(c.env).maxBytes;
  // Every refusal drains the body first: a cancelled one broke wrangler dev's proxy (see discard.ts).
  const refuse = async (problem: AppError): Promise<never> => {
    const declared = Number(c.req.header("content-length") ?? 0);
    await discardBody(c.req.raw.body, declared > discardLimit ? 0 : discardLimit);
    throw problem;
  };
  const me = c.get("userId");
  const db = createDb(c.env);
  const [row] = await db
    .select()
    .from(attachments)
    .where(and(eq(attachments.id, id), eq(attachments.uploaderId, me)))
    .limit(1);
  const problem = uploadProblem(row, c.req.header("content-type"), c.req.header("content-length"));
  if (problem || !row) {
    // A retried PUT after the first one stored the bytes but failed to tell the room: tell it now, so
    // the upload can still be sent. The answer stays 409; the bytes are not replaced.
    if (row?.state === "uploaded") await announce(c.env, row);
    return refuse(problem ?? notFound());
  }
  const body = c.req.raw.body;
  if (!body) throw new AppError(400, "bad_request", "The body is empty");
  let sha256: string;
  try {
    ({ sha256 } = await streamToR2(c.env.ATTACHMENTS, row.r2Key, body, row.size, row.contentType, discardLimit));
  } catch (err) {
    if (err instanceof UploadTooLarge) throw new AppError(413, "payload_too_large", err.message);
    if (err instanceof UploadIncomplete) throw new AppError(400, "bad_request", `Upload incomplete: ${err.message}`);
    throw err;
  }
  const [done] = await db
    .update(attachments)
    .set({ state: "uploaded", sha256, uploadedAt: new Date() })
    .where(and(eq(attachments.id, id), eq(attachments.state, "pending")))
    .returning();
  if (!done) throw new AppError(409, "conflict", "The bytes of this attachment are already uploaded");
  await announce(c.env, done);
  return c.json({ attachment: view(done) });
});

/** Tells the room an upload's bytes are in R2, so its uploader may send it (idempotent in the room). */
async function announce(env: Bindings, a: Attachment): Promise<void> {
  await roomStub(env, a.roomId).attachmentReady({
    id: a.id,
    uploaderId: a.uploaderId,
    filename: a.filename,
    contentType: a.contentType,
    size: a.size,
    createdAt: a.createdAt.getTime(),
  });
}

function uploadProblem(
  row: Attachment | undefined,
  type: string | undefined,
  length: string | undefined,
): AppError | null {
  if (!row) return notFound();
  if (row.state !== "pending")
    return new AppError(409, "conflict", "The bytes of this attachment are already uploaded");
  if (mediaType(type) !== row.contentType) {
    return new AppError(415, "unsupported_media_type", `Send the bytes as ${row.contentType}, as announced`);
  }
  if (length !== undefined && Number(length) > row.size) {
    return new AppError(413, "payload_too_large", `The body is larger than the announced ${row.size} bytes`);
  }
  if (length !== undefined && Number(length) < row.size) {
    return new AppError(400, "bad_request", `The body is smaller than the announced ${row.size} bytes`);
  }
  return null;
}

const download = defineRoute({
  method: "get",
  path: "/api/attachments/:id",
  summary: "Download (members of the room only), with Range and ETag",
  tag: "attachments",
  params: idPath,
  paramsError: NOT_FOUND,
  responses: {
    200: { description: "The file", contentType: "application/octet-stream" },
    206: { description: "The requested range", contentType: "application/octet-stream" },
    304: { description: "Not modified (If-None-Match)" },
    416: { description: "Range not satisfiable" },
  },
});
handle(attachmentRoutes, download, async (c, { params: { id } }) => {
  const me = c.get("userId");
  const [row] = await createDb(c.env).select().from(attachments).where(eq(attachments.id, id)).limit(1);
  // Visible to the room's members once sent; before that only to its uploader.
  const visible = row && (row.state === "sent" || (row.state === "uploaded" && row.uploaderId === me));
  if (!row || !visible || !(await memberRole(c.env, row.roomId, me))) throw notFound();

  const etag = `"${row.sha256}"`;
  const common = {
    etag,
    "cache-control": "private, max-age=31536000, immutable",
    "accept-ranges": "bytes",
    "content-type": row.contentType,
    "content-disposition": contentDisposition(row.filename, row.contentType),
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
  };
  if (
    c.req
      .header("if-none-match")
      ?.split(",")
      .some((t) => t.trim() === etag)
  ) {
    return new Response(null, { status: 304, headers: { etag, "cache-control": common["cache-control"] } });
  }
  const range = parseRange(c.req.header("range"), row.size);
  if (range === "invalid") {
    return new Response(null, { status: 416, headers: { "content-range": `bytes */${row.size}` } });
  }
  const object = await c.env.ATTACHMENTS.get(row.r2Key, range ? { range } : {});
  if (!object) throw notFound();
  if (!range) return new Response(object.body, { headers: { ...common, "content-length": String(row.size) } });
  return new Response(object.body, {
    status: 206,
    headers: {
      ...common,
      "content-length": String(range.length),
      "content-range": `bytes ${range.offset}-${range.offset + range.length - 1}/${row.size}`,
    },
  });
});
