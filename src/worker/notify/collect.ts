/**
 * A message job → notifications. Reads the message and its recipients' state, decides per recipient
 * (muted or gone: nothing; mentioned or in a direct room: at once; otherwise into the room's open digest),
 * then claims the dedupe keys and writes the notifications in one statement, so a retried or duplicated
 * job can never count a message twice and a crash can never leave a claimed key without its notification.
 */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { userBlocks } from "../../db/moderation-schema";
import { type NotificationKind, notificationSettings } from "../../db/notification-schema";
import { messages, roomMembers, rooms, users } from "../../db/schema";
import type { MessageJob } from "../../protocol/jobs";
import { mentions } from "./mentions";
import { previewOf } from "./text";

export interface PlannedRecipient {
  userId: string;
  kind: NotificationKind;
  inApp: boolean;
}

export interface RecipientState {
  userId: string;
  displayName: string;
  mutedUntil: Date | null;
  inApp: boolean | null;
  webhook: boolean | null;
  push: boolean | null;
}

/** Pure decision, unit-tested: who gets what for one message. */
export function planRecipients(
  message: { body: string; senderId: string },
  roomKind: "group" | "direct",
  recipients: RecipientState[],
  now: number,
): PlannedRecipient[] {
  const planned: PlannedRecipient[] = [];
  for (const r of recipients) {
    if (r.userId === message.senderId) continue;
    if (r.mutedUntil && r.mutedUntil.getTime() > now) continue;
    const inApp = r.inApp ?? true;
    if (!inApp && r.webhook === false && r.push === false) continue;
    const kind: NotificationKind =
      roomKind === "direct"
        ? "direct"
        : mentions(message.body, { id: r.userId, displayName: r.displayName })
          ? "mention"
          : "digest";
    planned.push({ userId: r.userId, kind, inApp });
  }
  return planned;
}

export interface TouchedNotification {
  id: string;
  /** Whose notification it is (their inbox is told). */
  userId?: string;
  /** Seconds until it is due (0 when it already is). */
  dueInSeconds: number;
}

/**
 * Returns the notifications that need a flush job: the ones this job created, plus, on a redelivered job
 * (keys already claimed), every still-undispatched one of those users in this room, since the first run
 * may have died before queueing their flush. Extra flush jobs are harmless; a missing one is not.
 */
export async function collectMessage(db: Db, job: MessageJob, windowMs: number): Promise<TouchedNotification[]> {
  const [found, recipients] = await db.batch([
    db
      .select({ body: messages.body, deletedAt: messages.deletedAt, roomKind: rooms.kind })
      .from(messages)
      .innerJoin(rooms, eq(rooms.id, messages.roomId))
      .where(and(eq(messages.roomId, job.roomId), eq(messages.seq, job.seq)))
      .limit(1),
    db
      .select({
        userId: roomMembers.userId,
        displayName: users.displayName,
        mutedUntil: roomMembers.mutedUntil,
        inApp: notificationSettings.inApp,
        webhook: notificationSettings.webhook,
        push: notificationSettings.push,
      })
      .from(roomMembers)
      // Banned since the message was sent: no notification.
      .innerJoin(users, and(eq(users.id, roomMembers.userId), isNull(users.bannedAt)))
      .leftJoin(notificationSettings, eq(notificationSettings.userId, roomMembers.userId))
      .where(
        and(
          eq(roomMembers.roomId, job.roomId),
          inArray(roomMembers.userId, job.recipients),
          // Whoever blocks the sender hears nothing of them.
          sql`not exists (select 1 from ${userBlocks} where ${userBlocks.blockerId} = ${roomMembers.userId}
                and ${userBlocks.blockedId} = ${job.senderId})`,
        ),
      ),
  ]);
  const message = found[0];
  // Gone or deleted before anyone was told: there is nothing left to tell.
  if (!message || message.deletedAt) return [];
  const planned = planRecipients(
    { body: message.body, senderId: job.senderId },
    message.roomKind,
    recipients,
    Date.now(),
  );
  if (planned.length === 0) return [];

  const input = JSON.stringify(planned.map((p) => ({ user_id: p.userId, kind: p.kind, in_app: p.inApp })));
  const result = await db.execute<{ id: string; user_id: string; due_in: string | number }>(sql`
    with input as (
      select * from jsonb_to_recordset(${input}::jsonb) as t(user_id uuid, kind text, in_app boolean)
    ),
    claimed as (
      insert into notification_keys (room_id, seq, user_id)
      select ${job.roomId}::uuid, ${job.seq}, user_id from input
      on conflict do nothing
      returning user_id
    ),
    upserted as (
      insert into notifications
        (user_id, room_id, kind, first_seq, last_seq, message_count, sender_ids, preview, in_app, deliver_at)
      select i.user_id, ${job.roomId}::uuid, i.kind, ${job.seq}, ${job.seq}, 1, array[${job.senderId}::uuid],
             ${previewOf(message.body)}, i.in_app,
             case when i.kind = 'digest' then now() + ${windowMs} * interval '1 millisecond' else now() end
      from input i join claimed c on c.user_id = i.user_id
      on conflict (user_id, room_id) where kind = 'digest' and delivered_at is null
      do update set
        message_count = notifications.message_count + 1,
        first_seq = least(notifications.first_seq, excluded.first_seq),
        last_seq = greatest(notifications.last_seq, excluded.last_seq),
        sender_ids = case
          when excluded.first_seq < notifications.first_seq
            then excluded.sender_ids || array_remove(notifications.sender_ids, excluded.sender_ids[1])
          when excluded.sender_ids[1] = any(notifications.sender_ids) then notifications.sender_ids
          else notifications.sender_ids || excluded.sender_ids end,
        preview = case when excluded.last_seq > notifications.last_seq
                       then excluded.preview else notifications.preview end,
        in_app = notifications.in_app or excluded.in_app,
        read_at = null,
        updated_at = now()
      returning id, user_id, deliver_at, (xmax = 0) as created
    )
    select id, user_id, greatest(0, ceil(extract(epoch from deliver_at - now()))) as due_in from upserted where created
    union all
    select n.id, n.user_id, greatest(0, ceil(extract(epoch from n.deliver_at - now()))) from notifications n
    where n.room_id = ${job.roomId}::uuid and n.dispatched_at is null
      and n.user_id in (select user_id from input except select user_id from claimed)
  `);
  return result.rows.map((r) => ({ id: r.id, userId: r.user_id, dueInSeconds: Number(r.due_in) }));
}
