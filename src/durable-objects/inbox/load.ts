/**
 * What an inbox reads from Postgres: the whole list when a session starts (one round trip for the rooms,
 * in parallel with the user's name and notifications), one room when the user is added to it, names of
 * senders it has not seen, and the notifications after they change. Rooms then correct and carry on from
 * this (their state is newer than Postgres's by at most the write-through).
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { notifications } from "../../db/notification-schema";
import { toViews, unreadFor, viewsQuery } from "../../db/notification-views";
import { type UserKind, users } from "../../db/schema";
import { previewOf } from "../../lib/notification-text";
import type { Role } from "../../protocol/identity";
import { INBOX_NOTIFICATIONS, type InboxRoom, type NotificationItem, PREVIEW_CHARS } from "../../protocol/inbox";

export interface LoadedInbox {
  displayName: string;
  rooms: InboxRoom[];
  /** Display names of everyone the rooms mention (last senders, peers). */
  people: Map<string, string>;
  notifications: LoadedNotifications;
}

export interface LoadedNotifications {
  unread: number;
  latest: NotificationItem[];
}

interface RoomRow extends Record<string, unknown> {
  id: string;
  kind: "group" | "direct";
  name: string | null;
  last_seq: string | number;
  version: string | number;
  activity: string;
  role: Role;
  last_read_seq: string | number;
  mine_after: number;
  m_seq: string | number | null;
  m_sender: string | null;
  m_body: string | null;
  m_kind: string | null;
  m_at: string | null;
  m_sender_name: string | null;
  peer_id: string | null;
  peer_name: string | null;
  peer_kind: UserKind | null;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** My rooms (all of them, or one), each with what the inbox shows, as Postgres has it now. */
function roomRows(db: Db, me: string, roomId: string | null) {
  return db.execute<RoomRow>(sql`
    select r.id, r.kind, r.name, r.last_seq, r.version, rm.role, rm.last_read_seq,
      to_char(coalesce(r.last_message_at, r.created_at) at time zone 'UTC', ${sql.raw(ISO)}) as activity,
      (select count(*)::int from messages mine
        where mine.room_id = r.id and mine.sender_id = ${me}::uuid and mine.seq > rm.last_read_seq) as mine_after,
      m.seq as m_seq, m.sender_id as m_sender, m.kind as m_kind,
      case when m.deleted_at is not null or exists (select 1 from user_blocks b
        where b.blocker_id = ${me}::uuid and b.blocked_id = m.sender_id) then null else left(m.body, 1000) end as m_body,
      to_char(m.created_at at time zone 'UTC', ${sql.raw(ISO)}) as m_at,
      su.display_name as m_sender_name, p.id as peer_id, p.display_name as peer_name, p.kind as peer_kind
    from room_members rm
    join rooms r on r.id = rm.room_id
    left join messages m on m.room_id = r.id and m.seq = r.last_seq
    left join users su on su.id = m.sender_id
    left join lateral (
      select u.id, u.display_name, u.kind from room_members pm join users u on u.id = pm.user_id
      where r.kind = 'direct' and pm.room_id = r.id and pm.user_id <> ${me}::uuid
      limit 1
    ) p on true
    where rm.user_id = ${me}::uuid ${roomId ? sql`and rm.room_id = ${roomId}::uuid` : sql``}
  `);
}

function toEntry(r: RoomRow): InboxRoom {
  const lastSeq = Number(r.last_seq);
  const readMark = Math.min(Number(r.last_read_seq), lastSeq);
  return {
    id: r.id,
    kind: r.kind,
    name: r.kind === "direct" ? null : r.name,
    role: r.role,
    peer: r.peer_id
      ? { id: r.peer_id, displayName: r.peer_name ?? "", kind: r.peer_kind ?? "user", online: false, lastSeenAt: null }
      : null,
    lastSeq,
    version: Number(r.version),
    readMark,
    unread: Math.max(0, lastSeq - readMark - Number(r.mine_after)),
    mentions: 0,
    lastMessage:
      r.m_seq === null || r.m_sender === null
        ? null
        : {
            seq: Number(r.m_seq),
            senderId: r.m_sender,
            senderName: r.m_sender_name,
            body: r.m_body === null ? null : previewOf(r.m_body, PREVIEW_CHARS),
            kind: r.m_kind === "system" ? "system" : "regular",
            at: r.m_at ?? r.activity,
          },
    activityAt: r.m_at ?? r.activity,
  };
}

function peopleOf(rows: RoomRow[]): Map<string, string> {
  const people = new Map<string, string>();
  for (const r of rows) {
    if (r.m_sender && r.m_sender_name !== null) people.set(r.m_sender, r.m_sender_name);
    if (r.peer_id && r.peer_name !== null) people.set(r.peer_id, r.peer_name);
  }
  return people;
}

/** Everything a session starts from, in one round trip (one batch: a connect storm is one request per inbox). */
export async function loadInbox(db: Db, me: string): Promise<LoadedInbox> {
  const [result, [user], views, [count]] = await db.batch([
    roomRows(db, me, null),
    db.select({ displayName: users.displayName }).from(users).where(eq(users.id, me)).limit(1),
    notificationsQuery(db, me),
    unreadQuery(db, me),
  ]);
  const rows = result.rows as RoomRow[];
  const people = peopleOf(rows);
  if (user) people.set(me, user.displayName);
  return {
    displayName: user?.displayName ?? "",
    rooms: rows.map(toEntry),
    people,
    notifications: { unread: count?.n ?? 0, latest: items(views) },
  };
}

/** One room of mine (null when I am not in it). */
export async function loadRoom(
  db: Db,
  me: string,
  roomId: string,
): Promise<{ room: InboxRoom; people: Map<string, string> } | null> {
  const rows = (await roomRows(db, me, roomId)).rows as RoomRow[];
  const [row] = rows;
  return row ? { room: toEntry(row), people: peopleOf(rows) } : null;
}

export async function loadNames(db: Db, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: users.id, displayName: users.displayName })
    .from(users)
    .where(inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, r.displayName]));
}

function notificationsQuery(db: Db, me: string) {
  return viewsQuery(db, and(eq(notifications.userId, me), eq(notifications.inApp, true))).limit(INBOX_NOTIFICATIONS);
}

function unreadQuery(db: Db, me: string) {
  return db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(unreadFor(me));
}

function items(rows: Awaited<ReturnType<typeof notificationsQuery>>): NotificationItem[] {
  return toViews(rows).map(({ userId: _, ...view }) => view);
}

/** The unread count and the newest notifications, as GET /api/notifications shows them (one round trip). */
export async function loadNotifications(db: Db, me: string): Promise<LoadedNotifications> {
  const [views, [count]] = await db.batch([notificationsQuery(db, me), unreadQuery(db, me)]);
  return { unread: count?.n ?? 0, latest: items(views) };
}
