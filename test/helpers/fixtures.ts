import { env } from "cloudflare:workers";
import { createDb } from "../../src/db/client";
import { roomMembers, rooms, sessions, users } from "../../src/db/schema";
import { signAccessToken } from "../../src/lib/jwt";

export const db = () => createDb(env);

export async function createUser(name = "user") {
  const id = crypto.randomUUID();
  const [user] = await db()
    .insert(users)
    .values({ id, email: `${name}-${id}@example.test`, displayName: name, passwordHash: "x" })
    .returning();
  if (!user) throw new Error("insert returned nothing");
  const { token, sessionId } = await sessionToken(id);
  return { ...user, token, sessionId };
}

/** An access token in a new live session of the user (as a login would mint), optionally issued at `now`. */
export async function sessionToken(userId: string, now?: number) {
  const [session] = await db().insert(sessions).values({ userId }).returning({ id: sessions.id });
  if (!session) throw new Error("insert returned nothing");
  return { sessionId: session.id, token: await signAccessToken(env, { userId, sessionId: session.id }, now) };
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
