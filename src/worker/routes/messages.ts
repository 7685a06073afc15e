import { and, desc, eq } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { toMessageView } from "../../db/message-view";
import { messages, pins } from "../../db/schema";
import { AppError, type ErrorCode } from "../../protocol/errors";
import { editMessage, emoji, sendMessage } from "../../protocol/frames";
import type { CommandResult } from "../../protocol/room-rpc";
import { historyQuery, reactionBody, readBody } from "../../protocol/rooms";
import { readHistory } from "../history";
import { requireUser } from "../middleware/auth";
import { membership } from "../room-access";
import { roomStub } from "../rooms";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validation";

export const messageRoutes = new Hono<AppEnv>();
messageRoutes.use("/api/rooms/*", requireUser);
messageRoutes.use("/api/messages/*", requireUser);

const STATUS: Partial<Record<ErrorCode, number>> = {
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  unprocessable: 422,
  internal: 500,
};

function rejected(result: { code: ErrorCode; message: string }): AppError {
  return new AppError(STATUS[result.code] ?? 400, result.code, result.message);
}

function changed(result: CommandResult): void {
  if (result.status === "rejected") throw rejected(result);
}

messageRoutes.get("/api/rooms/:id/messages", async (c) => {
  const { room } = await membership(c, c.req.param("id"));
  const q = queryParams(c, historyQuery);
  if (q.before !== undefined && q.after !== undefined) {
    throw new AppError(400, "validation_failed", "Use before or after, not both", {
      details: [{ field: "before", message: "conflicts with after" }],
    });
  }
  const page = await readHistory(c.env, room.id, q, room.lastSeq);
  c.header("x-history-source", page.source);
  const edge = page.messages[page.messages.length - 1];
  const full = page.messages.length === q.limit && edge !== undefined;
  return c.json({
    messages: page.messages,
    // Keyset cursors: pass back as before= (newest-first pages) or after= (forward pages).
    ...(q.after !== undefined
      ? { nextAfter: full ? edge.seq : null }
      : { nextBefore: full && edge.seq > 1 ? edge.seq : null }),
  });
});

/** Sends through the room object: the same throttle, seq, idempotency and fan-out as a WebSocket send. */
messageRoutes.post("/api/rooms/:id/messages", async (c) => {
  const { room, actor } = await membership(c, c.req.param("id"));
  const body = await jsonBody(c, sendMessage);
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
      throw new AppError(429, "throttled", `Sending too fast; retry in ${seconds} s`, {
        details: { retryAfterMs: result.retryAfterMs },
        headers: { "Retry-After": String(seconds) },
      });
    }
    case "rejected":
      throw rejected(result);
    case "ok":
      throw new AppError(500, "internal", "The room answered a send without a message");
  }
});

messageRoutes.patch("/api/messages/:roomId/:seq", async (c) => {
  const { room, actor } = await membership(c, c.req.param("roomId"));
  const seq = seqParam(c.req.param("seq"));
  const { body } = await jsonBody(c, editMessage.pick({ body: true }));
  changed(await roomStub(c.env, room.id).command(actor, { type: "edit", seq, body }));
  return c.json({ seq, body });
});

messageRoutes.delete("/api/messages/:roomId/:seq", async (c) => {
  const { room, actor } = await membership(c, c.req.param("roomId"));
  changed(await roomStub(c.env, room.id).command(actor, { type: "delete", seq: seqParam(c.req.param("seq")) }));
  return c.body(null, 204);
});

/** Moves my read mark; unread counts are the room's last seq minus it. */
messageRoutes.post("/api/rooms/:id/read", async (c) => {
  const { room, actor } = await membership(c, c.req.param("id"));
  const { seq } = await jsonBody(c, readBody);
  changed(await roomStub(c.env, room.id).command(actor, { type: "read", seq }));
  return c.body(null, 204);
});

messageRoutes.post("/api/messages/:roomId/:seq/reactions", async (c) => {
  const { room, actor } = await membership(c, c.req.param("roomId"));
  const { emoji: chosen } = await jsonBody(c, reactionBody);
  changed(
    await roomStub(c.env, room.id).command(actor, {
      type: "react",
      seq: seqParam(c.req.param("seq")),
      emoji: chosen,
      on: true,
    }),
  );
  return c.body(null, 204);
});

messageRoutes.delete("/api/messages/:roomId/:seq/reactions/:emoji", async (c) => {
  const { room, actor } = await membership(c, c.req.param("roomId"));
  const parsed = emoji.safeParse(c.req.param("emoji"));
  if (!parsed.success)
    throw new AppError(400, "validation_failed", "Invalid emoji", {
      details: [{ field: "emoji", message: "one emoji or :shortcode:" }],
    });
  changed(
    await roomStub(c.env, room.id).command(actor, {
      type: "react",
      seq: seqParam(c.req.param("seq")),
      emoji: parsed.data,
      on: false,
    }),
  );
  return c.body(null, 204);
});

for (const [method, on] of [
  ["post", true],
  ["delete", false],
] as const) {
  messageRoutes[method]("/api/messages/:roomId/:seq/pin", async (c) => {
    const { room, actor } = await membership(c, c.req.param("roomId"));
    changed(await roomStub(c.env, room.id).command(actor, { type: "pin", seq: seqParam(c.req.param("seq")), on }));
    return c.body(null, 204);
  });
}

/** Pinned messages, most recently pinned first. */
messageRoutes.get("/api/rooms/:id/pins", async (c) => {
  const { room } = await membership(c, c.req.param("id"));
  const rows = await createDb(c.env)
    .select({ message: messages, pinnedBy: pins.pinnedBy, pinnedAt: pins.pinnedAt })
    .from(pins)
    .innerJoin(messages, and(eq(messages.roomId, pins.roomId), eq(messages.seq, pins.seq)))
    .where(eq(pins.roomId, room.id))
    .orderBy(desc(pins.pinnedAt))
    .limit(200);
  return c.json({
    pins: rows.map((r) => ({
      message: toMessageView(r.message),
      pinnedBy: r.pinnedBy,
      pinnedAt: r.pinnedAt.toISOString(),
    })),
  });
});

function seqParam(text: string): number {
  const seq = Number(text);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new AppError(404, "not_found", "No such message");
  return seq;
}

async function fromPostgres(env: AppEnv["Bindings"], roomId: string, seq: number) {
  const [row] = await createDb(env)
    .select()
    .from(messages)
    .where(and(eq(messages.roomId, roomId), eq(messages.seq, seq)))
    .limit(1);
  return row ? toMessageView(row) : { roomId, seq };
}
