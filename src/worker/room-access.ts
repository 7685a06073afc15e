import type { Context } from "hono";
import { createDb } from "../db/client";
import { findMembership } from "../db/membership";
import type { Room } from "../db/schema";
import { AppError } from "../protocol/errors";
import type { Actor, Role } from "../protocol/identity";
import type { AppEnv } from "./types";

export const ROLE_RANK: Record<Role, number> = { member: 0, admin: 1, owner: 2 };

export function notFound(): AppError {
  return new AppError(404, "not_found", "Room not found");
}

/**
 * The room and the caller's role, or 404 for anyone who is not a member (or is banned): a non-member
 * cannot tell a room they may not see from one that does not exist.
 */
export async function membership<E extends AppEnv>(
  c: Context<E>,
  roomId: string,
): Promise<{ room: Room; role: Role; actor: Actor }> {
  const userId = c.get("userId") as string;
  const row = await findMembership(createDb(c.env), roomId, userId);
  if (!row) throw notFound();
  return {
    room: row.room,
    role: row.role,
    actor: { roomId: row.room.id, userId, role: row.role, requestId: c.get("requestId") },
  };
}

export function requireRole(role: Role, needed: Role, what: string): void {
  if (ROLE_RANK[role] < ROLE_RANK[needed]) throw new AppError(403, "forbidden", `Only a room ${needed} can ${what}`);
}
