/**
 * Blocks reach the rooms where they matter: every room the two people share (and any room one of them
 * joins later) is told the pair, and hides the blocked person's content from the blocker per socket; a
 * direct room refuses every send while a block stands either way.
 */
import { and, eq, inArray, or } from "drizzle-orm";
import { createDb } from "../db/client";
import { userBlocks } from "../db/moderation-schema";
import { roomMembers, rooms } from "../db/schema";
import { mapBounded } from "../lib/bounded";
import { AppError } from "../protocol/errors";
import type { ChangeResult } from "../protocol/room-rpc";
import { roomStub } from "./rooms";
import type { Bindings } from "./types";

/** Tells one room about pairs [blocker, blocked], added or removed; 503 if it cannot be told. */
async function tellRoom(
  env: Bindings,
  room: { id: string; kind: "group" | "direct" },
  actorId: string,
  pairs: [string, string][],
  on: boolean,
): Promise<void> {
  const actor = { roomId: room.id, userId: actorId, role: "member" as const };
  let result: ChangeResult | null = null;
  for (let attempt = 0; attempt < 3 && result === null; attempt++) {
    result = (await roomStub(env, room.id)
      .command(actor, { type: "blocks", pairs, on, direct: room.kind === "direct" })
      .catch(() => null)) as ChangeResult | null;
  }
  if (result?.status !== "ok") {
    throw new AppError(503, "unavailable", "The block was saved but a room could not apply it yet; retry");
  }
}

/** After a block or unblock between two people: every room they share. */
export async function applyBlockToSharedRooms(
  env: Bindings,
  blocker: string,
  blocked: string,
  on: boolean,
): Promise<void> {
  const db = createDb(env);
  const mine = db.select({ roomId: roomMembers.roomId }).from(roomMembers).where(eq(roomMembers.userId, blocker));
  const shared = await db
    .select({ id: rooms.id, kind: rooms.kind })
    .from(roomMembers)
    .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
    .where(and(eq(roomMembers.userId, blocked), inArray(roomMembers.roomId, mine)));
  await mapBounded(shared, 5, (room) => tellRoom(env, room, blocker, [[blocker, blocked]], on));
}

/**
 * After someone joins a room: the blocks between them and the room's other members (`userId` omitted:
 * among all its members, for a room created with several).
 */
export async function applyBlocksForNewMember(
  env: Bindings,
  room: { id: string; kind: "group" | "direct" },
  userId?: string,
): Promise<void> {
  const db = createDb(env);
  const members = db.select({ userId: roomMembers.userId }).from(roomMembers).where(eq(roomMembers.roomId, room.id));
  const among = and(inArray(userBlocks.blockerId, members), inArray(userBlocks.blockedId, members));
  const rows = await db
    .select({ blocker: userBlocks.blockerId, blocked: userBlocks.blockedId })
    .from(userBlocks)
    .where(
      userId === undefined ? among : and(among, or(eq(userBlocks.blockerId, userId), eq(userBlocks.blockedId, userId))),
    );
  if (rows.length > 0) {
    await tellRoom(
      env,
      room,
      userId ?? (rows[0] as { blocker: string }).blocker,
      rows.map((r) => [r.blocker, r.blocked]),
      true,
    );
  }
}

/** True when either of the two blocks the other. */
export async function blockBetween(env: Bindings, a: string, b: string): Promise<boolean> {
  const [row] = await createDb(env)
    .select({ blocker: userBlocks.blockerId })
    .from(userBlocks)
    .where(
      or(
        and(eq(userBlocks.blockerId, a), eq(userBlocks.blockedId, b)),
        and(eq(userBlocks.blockerId, b), eq(userBlocks.blockedId, a)),
      ),
    )
    .limit(1);
  return row !== undefined;
}
