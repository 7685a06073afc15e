/**
 * Writes a batch of outbox rows to Postgres in one HTTP round trip (one transaction), then queues
 * notification jobs for members who were offline. Every statement is idempotent, so a batch retried after
 * a failure (or after Postgres committed but the reply was lost) changes nothing twice.
 */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { attachments } from "../db/attachment-schema";
import type { Db } from "../db/client";
import { endpointsEnabled } from "../db/integration-schema";

export { isPermanent } from "../db/errors";

import { messageReactions, messages, pins, roomChanges, roomMembers, rooms, users } from "../db/schema";
import type { ChangeFrame } from "../protocol/frames";
import { MAX_RECIPIENTS_PER_JOB, type MessageJob, type RoomEventsJob } from "../protocol/jobs";
import type {
  DeletePayload,
  EditPayload,
  MessagePayload,
  OutboxRow,
  PinPayload,
  ReactionPayload,
  ReadPayload,
} from "./room-store";

/** Cloudflare Queues accept at most 100 messages and 256 KB per sendBatch; stay clear of the size limit. */
const QUEUE_BATCH = 100;
const QUEUE_BATCH_BYTES = 200 * 1024;

/**
 * `online`: members with a live socket at flush time get no notification. Deciding here rather than at
 * accept time keeps each outbox row small (a 1,000-member room would store 1,000 ids per message), and a
 * member who came back while Postgres was down has already seen the message through resume.
 */
export async function writeThrough(
  db: Db,
  queue: Queue,
  roomId: string,
  rows: OutboxRow[],
  online: string[],
): Promise<void> {
  const inserts = rows.filter((r) => r.kind === "message").map((r) => JSON.parse(r.payload) as MessagePayload);
  const statements: BatchItem<"pg">[] = [];
  // Only who gets a job: members offline now and not muted. Filtering here, not in the room, keeps a
  // busy 1,000-member room from pulling its whole member list over HTTP on every flush. Banned users
  // are nobody's member, so they are not told either.
  const membersQuery = db
    .select({ userId: roomMembers.userId })
    .from(roomMembers)
    .innerJoin(users, and(eq(users.id, roomMembers.userId), isNull(users.bannedAt)))
    .where(
      and(
        eq(roomMembers.roomId, roomId),
        sql`${roomMembers.userId} <> all(${sql.param(online)}::uuid[])`,
        sql`(${roomMembers.mutedUntil} is null or ${roomMembers.mutedUntil} <= now())`,
      ),
    );
  if (inserts.length > 0) {
    statements.push(membersQuery);
    statements.push(
      db
        .insert(messages)
        .values(
          inserts.map(({ message: m }) => ({
            roomId,
            seq: m.seq,
            senderId: m.senderId,
            clientMsgId: m.clientMsgId,
            body: m.body ?? "",
            replyTo: m.replyTo,
            attachments: m.attachments ?? null,
            kind: m.kind ?? "regular",
            system: m.system ?? null,
            custom: m.custom ?? null,
            createdAt: new Date(m.createdAt),
          })),
        )
        .onConflictDoNothing({ target: [messages.roomId, messages.seq] }),
    );
    for (const { message: m } of inserts) {
      if (!m.attachments?.length) continue;
      statements.push(
        db
          .update(attachments)
          .set({ state: "sent", messageSeq: m.seq })
          .where(
            and(
              eq(attachments.roomId, roomId),
              // Only from 'uploaded': a sweep that already took an orphan's bytes must not be undone.
              eq(attachments.state, "uploaded"),
              inArray(
                attachments.id,
                m.attachments.map((a) => a.id),
              ),
            ),
          ),
      );
    }
    const last = inserts[inserts.length - 1]?.message;
    if (last) {
      statements.push(
        db
          .update(rooms)
          .set({
            lastSeq: sql`greatest(${rooms.lastSeq}, ${last.seq})`,
            lastMessageAt: sql`greatest(${rooms.lastMessageAt}, ${new Date(last.createdAt).toISOString()}::timestamptz)`,
          })
          .where(eq(rooms.id, roomId)),
      );
    }
  }
  // The log entries of these rows, before the changes themselves: a delete below scrubs its message's
  // entries, including ones written in this same batch.
  const logged = rows.filter((r) => r.version !== null && r.frame !== null);
  if (logged.length > 0) {
    statements.push(
      db
        .insert(roomChanges)
        .values(
          logged.map((r) => {
            const frame = JSON.parse(r.frame as string) as ChangeFrame;
            return { roomId, version: r.version as number, kind: frame.type, seq: seqOf(frame), frame };
          }),
        )
        .onConflictDoNothing({ target: [roomChanges.roomId, roomChanges.version] }),
    );
    const top = Math.max(...logged.map((r) => r.version as number));
    statements.push(
      db
        .update(rooms)
        .set({ version: sql`greatest(${rooms.version}, ${top})` })
        .where(eq(rooms.id, roomId)),
    );
  }
  // Integrations hook (issue 27): in the same round trip, whether any webhook endpoint wants events.
  const eventsAsked = logged.length > 0 ? statements.push(endpointsEnabled(db)) - 1 : -1;
  // Edits, deletes and receipts keep their order; inserts go first, and nothing can precede its own insert.
  for (const row of rows) {
    const change = changeStatement(db, roomId, row);
    if (Array.isArray(change)) statements.push(...change);
    else if (change) statements.push(change);
  }
  const [first, ...rest] = statements;
  if (!first) return;
  const results = await db.batch([first, ...rest]);

  if (inserts.length > 0) {
    const offline = (results[0] as { userId: string }[]).map((m) => m.userId);
    await enqueueNotifications(queue, roomId, inserts, offline);
  }
  // Integrations hook (issue 27): the changes just written become product events (a failed send throws,
  // so the batch, idempotent, is written and this job queued again).
  if (eventsAsked >= 0 && (results[eventsAsked] as { on: boolean }[])[0]?.on) {
    const versions = logged.map((r) => r.version as number);
    await queue.send({
      kind: "events.room",
      roomId,
      fromVersion: Math.min(...versions),
      toVersion: Math.max(...versions),
    } satisfies RoomEventsJob);
  }
}

function changeStatement(db: Db, roomId: string, row: OutboxRow): BatchItem<"pg"> | BatchItem<"pg">[] | null {
  switch (row.kind) {
    case "message":
    case "change":
      return null;
    case "edit": {
      const p = JSON.parse(row.payload) as EditPayload;
      return db
        .update(messages)
        .set({ body: p.body, editedAt: new Date(p.editedAt) })
        .where(and(eq(messages.roomId, roomId), eq(messages.seq, p.seq)));
    }
    case "delete": {
      const p = JSON.parse(row.payload) as DeletePayload;
      // A tombstone: the row and its seq stay, the text and files go (the sweep removes the bytes).
      return [
        db
          .update(messages)
          .set({ body: "", attachments: null, deletedAt: new Date(p.deletedAt) })
          .where(and(eq(messages.roomId, roomId), eq(messages.seq, p.seq))),
        db
          .update(attachments)
          .set({ state: "deleted", deletedAt: new Date(p.deletedAt) })
          .where(and(eq(attachments.roomId, roomId), eq(attachments.messageSeq, p.seq))),
        // Its words leave the change log too (the room's SQLite copy was scrubbed at the delete).
        db
          .update(roomChanges)
          .set({ frame: sql`jsonb_set(${roomChanges.frame} - 'attachments' - 'custom', '{body}', 'null'::jsonb)` })
          .where(
            and(
              eq(roomChanges.roomId, roomId),
              eq(roomChanges.seq, p.seq),
              inArray(roomChanges.kind, ["message", "edited"]),
            ),
          ),
      ];
    }
    case "reaction": {
      const p = JSON.parse(row.payload) as ReactionPayload;
      const key = { roomId, seq: p.seq, userId: p.userId, emoji: p.emoji };
      return p.on
        ? db.insert(messageReactions).values(key).onConflictDoNothing()
        : db
            .delete(messageReactions)
            .where(
              and(
                eq(messageReactions.roomId, roomId),
                eq(messageReactions.seq, p.seq),
                eq(messageReactions.userId, p.userId),
                eq(messageReactions.emoji, p.emoji),
              ),
            );
    }
    case "pin": {
      const p = JSON.parse(row.payload) as PinPayload;
      return p.on
        ? db
            .insert(pins)
            .values({ roomId, seq: p.seq, pinnedBy: p.userId, pinnedAt: new Date(p.at) })
            .onConflictDoNothing()
        : db.delete(pins).where(and(eq(pins.roomId, roomId), eq(pins.seq, p.seq)));
    }
    case "read": {
      const p = JSON.parse(row.payload) as ReadPayload;
      return db
        .update(roomMembers)
        .set({ lastReadSeq: sql`greatest(${roomMembers.lastReadSeq}, ${p.seq})` })
        .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, p.userId)));
    }
  }
}

/** The message a change is about, if any (member and room changes are about none). */
function seqOf(frame: ChangeFrame): number | null {
  return "seq" in frame && typeof frame.seq === "number" ? frame.seq : null;
}

async function enqueueNotifications(
  queue: Queue,
  roomId: string,
  inserts: MessagePayload[],
  offline: string[],
): Promise<void> {
  const jobs: MessageJob[] = [];
  for (const { message, requestId } of inserts) {
    // Joins, leaves and renames are not worth a notification.
    if (message.kind === "system") continue;
    const recipients = offline.filter((userId) => userId !== message.senderId);
    for (let i = 0; i < recipients.length; i += MAX_RECIPIENTS_PER_JOB) {
      jobs.push({
        kind: "message",
        roomId,
        seq: message.seq,
        senderId: message.senderId,
        recipients: recipients.slice(i, i + MAX_RECIPIENTS_PER_JOB),
        ...(requestId ? { requestId } : {}),
      });
    }
  }
  let batch: { body: MessageJob }[] = [];
  let bytes = 0;
  for (const job of jobs) {
    const size = JSON.stringify(job).length;
    if (batch.length === QUEUE_BATCH || (batch.length > 0 && bytes + size > QUEUE_BATCH_BYTES)) {
      await queue.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ body: job });
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}
