import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { createDb } from "../../db/client";
import { roomMembers } from "../../db/schema";
import { IDENTITY_HEADERS } from "../../durable-objects/identity";
import { AppError } from "../../protocol/errors";
import { requireUser } from "../middleware/auth";
import type { AppEnv } from "../types";

export const roomSocket = new Hono<AppEnv>();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The upgrade is authenticated and authorised here, then handed to the room object as is, so the object
 * accepts the socket itself with the Hibernation API. The room trusts identity only from these headers,
 * which are stripped from the client's request first.
 */
roomSocket.get("/api/rooms/:roomId/ws", checkOrigin, requireUser, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError(426, "upgrade_required", "Expected a WebSocket upgrade", { headers: { Upgrade: "websocket" } });
  }
  const roomId = c.req.param("roomId").toLowerCase();
  const userId = c.get("userId") as string;
  if (!UUID.test(roomId) || !(await isMember(c.env, roomId, userId))) {
    throw new AppError(404, "not_found", "Room not found");
  }
  const headers = new Headers(c.req.raw.headers);
  for (const name of Object.values(IDENTITY_HEADERS)) headers.delete(name);
  headers.delete("authorization");
  headers.set(IDENTITY_HEADERS.roomId, roomId);
  headers.set(IDENTITY_HEADERS.userId, userId);
  headers.set(IDENTITY_HEADERS.tokenExpiresAt, String(c.get("tokenExpiresAt")));
  headers.set(IDENTITY_HEADERS.requestId, c.get("requestId"));
  const stub = c.env.ROOMS.get(c.env.ROOMS.idFromName(roomId));
  return stub.fetch(new Request(c.req.raw.url, { method: "GET", headers }));
});

async function isMember(env: AppEnv["Bindings"], roomId: string, userId: string): Promise<boolean> {
  const rows = await createDb(env)
    .select({ role: roomMembers.role })
    .from(roomMembers)
    .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    .limit(1);
  return rows.length > 0;
}

/** Browsers send Origin on upgrades; only listed origins may open sockets. Non-browser clients send none. */
async function checkOrigin(c: import("hono").Context<AppEnv>, next: () => Promise<void>) {
  const origin = c.req.header("origin");
  if (origin) {
    const allowed = (c.env.ALLOWED_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean);
    if (!allowed.includes(origin)) throw new AppError(403, "forbidden", "Origin not allowed");
  }
  await next();
}
