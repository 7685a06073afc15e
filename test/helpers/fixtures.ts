import { env } from "cloudflare:workers";
import { createDb } from "../../src/db/client";
import { roomMembers, rooms, users } from "../../src/db/schema";
import { signAccessToken } from "../../src/lib/jwt";

export const db = () => createDb(env);

export async function createUser(name = "user") {
  const id = crypto.randomUUID();
  const [user] = await db()
    .insert(users)
    .values({ id, email: `${name}-${id}@example.test`, displayName: name, passwordHash: "x" })
    .returning();
  if (!user) throw new Error("insert returned nothing");
  return { ...user, token: await signAccessToken(env, id) };
}

export async function createRoom(ownerId: string, memberIds: string[] = [], admins: string[] = []) {
  const [room] = await db().insert(rooms).values({ kind: "group", name: "test room", createdBy: ownerId }).returning();
  if (!room) throw new Error("insert returned nothing");
  await db()
    .insert(roomMembers)
    .values([
      { roomId: room.id, userId: ownerId, role: "owner" as const },
      ...memberIds.map((userId) => ({
        roomId: room.id,
        userId,
        role: admins.includes(userId) ? ("admin" as const) : ("member" as const),
      })),
    ]);
  return room;
}
