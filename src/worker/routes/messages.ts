import { and, desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { messageStateColumns, toMessageState, toMessageView } from "../../db/message-view";
import { messages, pins, rooms } from "../../db/schema";
import { createSnapshotDb } from "../../db/snapshot";
import { AppError, type ErrorCode } from "../../protocol/errors";
import { editMessage, sendMessage } from "../../protocol/frames";
import { idPath, messagePath, reactionPath } from "../../protocol/params";
import { editedReply, historyPage, pinsReply, resentReply, sentReply } from "../../protocol/responses/messages";
import type { CommandResult } from "../../protocol/room-rpc";
import { historyQuery, reactionBody, readBody } from "../../protocol/rooms";
import { readHistory } from "../history";
import { requireUser } from "../middleware/auth";
import { notFound } from "../room-access";
import { roomStub } from "../rooms";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const messageRoutes = new Hono<AppEnv>();
messageRoutes.use("/api/rooms/*", requireUser);
messageRoutes.use("/api/messages/*", requireUser);

const STATUS: Partial<Record<ErrorCode, number>> = {
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  unprocessable: 422,
  internal: 500,
  muted: 403,
  blocked: 403,
  content_rejected: 422,
  moderation_unavailable: 503,
};

function rejected(result: { code: ErrorCode; message: string }): AppError {
  return new AppError(STATUS[result.code] ?? 400, result.code, result.message);
}

function changed(result: CommandResult): void {
  if (result.status === "rejected") throw rejected(result);
}

const history = defineRoute({
  method: "get",
  path: "/api/rooms/:id/messages",
  summary: "History, keyset pages on seq, each message with its whole state and the version the page reflects",
  tag: "messages",
  // No membership preflight: the page's own snapshot checks it (history.ts), one Postgres call in all.
  params: idPath,
  paramsError: "Room not found",
  query: historyQuery,
  responses: { 200: { description: "Messages, the version they reflect and the cursor", schema: historyPage } },
});
handle(messageRoutes, history, async (c, { params, query: q }) => {
  if (q.before !== undefined && q.after !== undefined) {
    throw new AppError(400, "validation_failed", "Use before or after, not both", {
      details: [{ field: "before", message: "conflicts with after" }],
    });
  }
  const page = await readHistory(c.env, params.id.toLowerCase(), c.get("userId"), q);
  c.header("x-history-source", page.source);
  const edge = page.messages[page.messages.length - 1];
  const full = page.messages.length === q.limit && edge !== undefined;
  // Keyset cursors: pass back as before= (newest-first pages) or after= (forward pages).
  const cursor =
    q.after !== undefined
      ? { nextAfter: full ? edge.seq : null }
      : { nextBefore: full && edge.seq > 1 ? edge.seq : null };
  return c.json({ ...page, ...cursor });
});

/** Sends through the room object: the same throttle, seq, idempotency and fan-out as a WebSocket send. */
const send = defineRoute({
  method: "post",
  path: "/api/rooms/:id/messages",
  summary: "Send a message (idempotent on clientMsgId)",
  tag: "messages",
  member: "id",
  params: idPath,
  body: sendMessage,
  responses: {
    200: { description: "A resend: the message first sent with this clientMsgId", schema: resentReply },
    201: { description: "The message", schema: sentReply },
  },
});
handle(messageRoutes, send, async (c, { member: { room, actor }, body }) => {
  const result = await roomStub(c.env, room.id).command(actor, { type: "send", ...body });
  switch (result.status) {
    case "accepted":
      return c.json({ message: result.message }, 201);
    case "duplicate": {
      const message = result.message ?? (await fromPostgres(c.env, room.id, result.seq));
      return c.json({ message, duplicate: true }, 200);
    }
    case "throttled": {
      const seconds = Math.ceil(result.retryAfterMs / 1000);
      const why = result.reason === "slow_mode" ? "Slow mode is on in this room" : "Sending too fast";
      throw new AppError(429, "throttled", `${why}; retry in ${seconds} s`, {
        details: { retryAfterMs: result.retryAfterMs, reason: result.reason ?? "rate" },
        headers: { "Retry-After": String(seconds) },
      });
    }
    case "rejected":
      throw rejected(result);
    case "ok":
      throw new AppError(500, "internal", "The room answered a send without a message");
  }
});

const NO_SUCH_MESSAGE = "No such message";

const edit = defineRoute({
  method: "patch",
  path: "/api/messages/:roomId/:seq",
  summary: "Edit my message",
  tag: "messages",
  member: "roomId",
  params: messagePath,
  paramsError: NO_SUCH_MESSAGE,
  body: editMessage.pick({ body: true }),
  responses: { 200: { description: "The new text", schema: editedReply } },
});
handle(messageRoutes, edit, async (c, { member: { room, actor }, params: { seq }, body: { body } }) => {
  changed(await roomStub(c.env, room.id).command(actor, { type: "edit", seq, body }));
  return c.json({ seq, body });
});

const remove = defineRoute({
  method: "delete",
  path: "/api/messages/:roomId/:seq",
  summary: "Delete a message (tombstone)",
  tag: "messages",
  member: "roomId",
  params: messagePath,
  paramsError: NO_SUCH_MESSAGE,
  responses: { 204: { description: "Deleted" } },
});
handle(messageRoutes, remove, async (c, { member: { room, actor }, params: { seq } }) => {
  changed(await roomStub(c.env, room.id).command(actor, { type: "delete", seq }));
  return c.body(null, 204);
});

/** Moves my read mark; unread counts are the room's last seq minus it. */
const read = defineRoute({
  method: "post",
  path: "/api/rooms/:id/read",
  summary: "Move my read mark",
  tag: "messages",
  member: "id",
  params: idPath,
  body: readBody,
  responses: { 204: { description: "Moved" } },
});
handle(messageRoutes, read, async (c, { member: { room, actor }, body: { seq } }) => {
  changed(await roomStub(c.env, room.id).command(actor, { type: "read", seq }));
  return c.body(null, 204);
});

const react = defineRoute({
  method: "post",
  path: "/api/messages/:roomId/:seq/reactions",
  summary: "React",
  tag: "messages",
  member: "roomId",
  params: messagePath,
  paramsError: NO_SUCH_MESSAGE,
  body: reactionBody,
  responses: { 204: { description: "Reacted" } },
});
handle(messageRoutes, react, async (c, { member: { room, actor }, params: { seq }, body: { emoji: chosen } }) => {
  changed(await roomStub(c.env, room.id).command(actor, { type: "react", seq, emoji: chosen, on: true }));
  return c.body(null, 204);
});

const unreact = defineRoute({
  method: "delete",
  path: "/api/messages/:roomId/:seq/reactions/:emoji",
  summary: "Remove my reaction",
  tag: "messages",
  member: "roomId",
  params: reactionPath,
  paramsError: (error) =>
    error.issues.some((i) => i.path[0] === "emoji")
      ? new AppError(400, "validation_failed", "Invalid emoji", {
          details: [{ field: "emoji", message: "one emoji or :shortcode:" }],
        })
      : new AppError(404, "not_found", NO_SUCH_MESSAGE),
  responses: { 204: { description: "Removed" } },
});
handle(messageRoutes, unreact, async (c, { member: { room, actor }, params: { seq, emoji } }) => {
  changed(await roomStub(c.env, room.id).command(actor, { type: "react", seq, emoji, on: false }));
  return c.body(null, 204);
});

for (const [method, on, summary] of [
  ["post", true, "Pin"],
  ["delete", false, "Unpin"],
] as const) {
  const pin = defineRoute({
    method,
    path: "/api/messages/:roomId/:seq/pin",
    summary,
    tag: "messages",
    member: "roomId",
    params: messagePath,
    paramsError: NO_SUCH_MESSAGE,
    responses: { 204: { description: on ? "Pinned" : "Unpinned" } },
  });
  handle(messageRoutes, pin, async (c, { member: { room, actor }, params: { seq } }) => {
    changed(await roomStub(c.env, room.id).command(actor, { type: "pin", seq, on }));
    return c.body(null, 204);
  });
}

/** Pinned messages, most recently pinned first. */
const listPins = defineRoute({
  method: "get",
  path: "/api/rooms/:id/pins",
  summary: "Pinned messages",
  tag: "messages",
  member: "id",
  params: idPath,
  responses: { 200: { description: "Pins, most recent first, and the version they reflect", schema: pinsReply } },
});
handle(messageRoutes, listPins, async (c, { member: { room, actor } }) => {
  const db = createSnapshotDb(c.env);
  const [found, rows] = await db.batch([
    db.select({ version: rooms.version }).from(rooms).where(eq(rooms.id, room.id)),
    db
      .select({
        message: messages,
        ...messageStateColumns(actor.userId),
        pinnedBy: pins.pinnedBy,
        pinnedAt: pins.pinnedAt,
      })
      .from(pins)
      .innerJoin(messages, and(eq(messages.roomId, pins.roomId), eq(messages.seq, pins.seq)))
      .where(eq(pins.roomId, room.id))
      .orderBy(desc(pins.pinnedAt))
      .limit(200),
  ]);
  const [current] = found;
  if (!current) throw notFound(); // deleted since the membership check
  return c.json({
    pins: rows.map(({ message, pinnedBy, pinnedAt, ...agg }) => ({
      message: toMessageState(message, agg),
      pinnedBy,
      pinnedAt: pinnedAt.toISOString(),
    })),
    version: current.version,
  });
});

async function fromPostgres(env: AppEnv["Bindings"], roomId: string, seq: number) {
  const [row] = await createDb(env)
    .select()
    .from(messages)
    .where(and(eq(messages.roomId, roomId), eq(messages.seq, seq)))
    .limit(1);
  return row ? toMessageView(row) : { roomId, seq };
}
