/**
 * Notifications as every channel shows them (in-app list, webhook body, push payload, the inbox objects'
 * live list): the stored row, its room, its senders' names, and the rendered text. One query, senders
 * gathered in order.
 */
import { and, desc, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { notificationText } from "../lib/notification-text";
import type { Db } from "./client";
import { type NotificationKind, notifications } from "./notification-schema";
import { rooms } from "./schema";

export interface NotificationView {
  id: string;
  userId: string;
  kind: NotificationKind;
  roomId: string;
  roomName: string | null;
  roomKind: "group" | "direct";
  firstSeq: number;
  lastSeq: number;
  messageCount: number;
  senders: { id: string; displayName: string }[];
  text: string;
  preview: string;
  /** Still absorbing new messages (a digest inside its window). */
  pending: boolean;
  read: boolean;
  createdAt: string;
  updatedAt: string;
}

const senders = sql<{ id: string; displayName: string }[]>`coalesce((
  select json_agg(json_build_object('id', u.id, 'displayName', u.display_name)
                  order by array_position(${notifications.senderIds}, u.id))
  from users u where u.id = any(${notifications.senderIds})), '[]'::json)`;

/** The query behind loadViews, unexecuted, so it can ride in a `db.batch` (the inbox's list read). */
export function viewsQuery(db: Db, where: SQL | undefined) {
  return db
    .select({
      n: notifications,
      roomName: rooms.name,
      roomKind: rooms.kind,
      senders,
      // Microseconds kept: the list's keyset cursor compares this value with the stored one.
      createdAt: sql<string>`to_char(${notifications.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(notifications)
    .innerJoin(rooms, eq(rooms.id, notifications.roomId))
    .where(where)
    .orderBy(desc(notifications.createdAt), desc(notifications.id));
}

export async function loadViews(
  db: Db,
  where: SQL | undefined,
  opts: { limit?: number } = {},
): Promise<NotificationView[]> {
  const query = viewsQuery(db, where);
  return toViews(opts.limit ? await query.limit(opts.limit) : await query);
}

/** Rows of viewsQuery as views. */
export function toViews(rows: Awaited<ReturnType<typeof viewsQuery>>): NotificationView[] {
  return rows.map(({ n, roomName, roomKind, senders: who, createdAt }) => ({
    id: n.id,
    userId: n.userId,
    kind: n.kind,
    roomId: n.roomId,
    roomName,
    roomKind,
    firstSeq: n.firstSeq,
    lastSeq: n.lastSeq,
    messageCount: n.messageCount,
    senders: who,
    text: notificationText({
      kind: n.kind,
      messageCount: n.messageCount,
      roomKind,
      roomName,
      senderNames: who.map((s) => s.displayName),
    }),
    preview: n.preview,
    pending: n.deliveredAt === null,
    read: n.readAt !== null,
    createdAt,
    updatedAt: n.updatedAt.toISOString(),
  }));
}

export async function loadView(db: Db, id: string): Promise<NotificationView | null> {
  const [view] = await loadViews(db, eq(notifications.id, id));
  return view ?? null;
}

export function unreadFor(userId: string): SQL | undefined {
  return and(eq(notifications.userId, userId), eq(notifications.inApp, true), isNull(notifications.readAt));
}

export function idsOf(userId: string, ids: string[]): SQL | undefined {
  return and(eq(notifications.userId, userId), inArray(notifications.id, ids));
}
