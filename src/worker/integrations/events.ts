/**
 * Product events (issue 27): where they come from and how they become deliveries.
 *
 * - Room events come from the room's change log in Postgres (room_changes, written through from each
 *   room): the write-through queues an `events.room` job when it wrote changes and some endpoint is
 *   enabled; the job turns every change after the room's cursor into events (id `<roomId>:<version>`) and
 *   one delivery per subscribed endpoint, and moves the cursor, all in one transaction.
 * - Lifecycle events (users created, banned; rooms created, deleted; reports) are written by database
 *   triggers in the same transaction as the change itself (migration 0010), and fanned out by
 *   `events.dispatch` (every minute from the cron, and after each room's events).
 * - Deliveries leave per (endpoint, stream) in order: see webhooks.ts.
 */
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../../db/client";
import { integrationEvents, webhookDeliveries, webhookEndpoints } from "../../db/integration-schema";
import { roomChanges } from "../../db/schema";
import type { EventType, ProductEvent } from "../../protocol/events";
import type { ChangeFrame } from "../../protocol/frames";
import type { RoomEventsJob } from "../../protocol/jobs";

/** How far back from its first job a room's cursor may start (see processRoomEvents). */
const START_WINDOW = 1000;
/** Changes turned into events per job; a longer backlog queues the job again. */
const CHANGES_PER_JOB = 500;
/** How long one job may hold a room's cursor or a stream before another may take it over. */
export const LEASE_SECONDS = 60;
/** Where a room's lifecycle events sort in its stream: created before every change, deleted after. */
const FIRST = 0;
const LAST = Number.MAX_SAFE_INTEGER;
export const DEPLOYMENT_STREAM = "deployment";

/** Lets the caller come back later: the job is queued again after this many seconds. */
export interface Requeue {
  delaySeconds: number;
}

/** The event a change of the room's log is, if it is one endpoints can ask for. */
export function eventOf(roomId: string, version: number, frame: ChangeFrame, at: Date): ProductEvent | null {
  const base = { id: `${roomId}:${version}`, occurredAt: at.toISOString(), roomId, version };
  const event = (type: EventType, data: unknown): ProductEvent => ({ ...base, type, data });
  switch (frame.type) {
    case "message": {
      const { type: _t, v: _v, ...message } = frame;
      return event("message.created", { message });
    }
    case "edited":
      return event("message.edited", { seq: frame.seq, body: frame.body, editedAt: frame.editedAt });
    case "deleted":
      return event("message.deleted", { seq: frame.seq, deletedAt: frame.deletedAt });
    case "reaction":
      return event("reaction.changed", { seq: frame.seq, userId: frame.userId, emoji: frame.emoji, on: frame.on });
    case "member":
      switch (frame.change) {
        case "joined":
          return event("member.added", { userId: frame.userId, role: frame.role, by: frame.by });
        case "left":
          return event("member.removed", { userId: frame.userId, change: "left" });
        case "removed":
          return event("member.removed", { userId: frame.userId, change: "removed", by: frame.by });
        case "role":
          return event("member.role_changed", { userId: frame.userId, role: frame.role, by: frame.by });
        case "banned":
          return event("member.banned", { userId: frame.userId, by: frame.by, until: frame.until });
        default:
          return null;
      }
    case "room": {
      const { type: _t, v: _v, by, ...changes } = frame;
      return event("room.updated", { changes, by });
    }
    default:
      return null;
  }
}

/** The body an endpoint receives for a stored event. */
export function envelope(row: typeof integrationEvents.$inferSelect): ProductEvent {
  return {
    id: row.id,
    type: row.type as EventType,
    occurredAt: row.occurredAt.toISOString(),
    roomId: row.roomId,
    version: row.version,
    data: row.data,
  };
}

export interface Drain {
  endpointId: string;
  stream: string;
}

/**
 * One `events.room` job: the room's changes after its cursor become events and deliveries. Returns the
 * streams to drain, and `requeue` when another job holds the cursor or a backlog remains.
 */
export async function processRoomEvents(db: Db, job: RoomEventsJob): Promise<{ drains: Drain[]; requeue?: Requeue }> {
  const { roomId } = job;
  // Take the cursor. A room never seen starts at its first change made since the oldest enabled endpoint
  // was created, looking back up to START_WINDOW versions from this job's (the first jobs of a room can
  // arrive out of order). No row back: the room is gone (nothing to do) or another job holds the lease
  // (come back shortly; it may have read the log before our changes were written).
  const { rows: leased } = await db.execute<{ through: string | number }>(sql`
    insert into room_event_cursors (room_id, through, lease_until)
    select ${roomId}::uuid,
      coalesce((
        select min(version) - 1 from room_changes
        where room_id = ${roomId}::uuid and version > ${Math.max(0, job.fromVersion - START_WINDOW)}
          and version < ${job.fromVersion}
          and created_at >= (select min(created_at) from webhook_endpoints where enabled)
      ), ${job.fromVersion - 1}),
      now() + make_interval(secs => ${LEASE_SECONDS})
    where exists (select 1 from rooms where id = ${roomId}::uuid)
    on conflict (room_id) do update set lease_until = excluded.lease_until
      where room_event_cursors.lease_until is null or room_event_cursors.lease_until < now()
    returning through`);
  const cursorRow = leased[0];
  if (!cursorRow) {
    const [exists] = (await db.execute<{ one: number }>(sql`select 1 as one from rooms where id = ${roomId}::uuid`))
      .rows;
    return exists ? { drains: [], requeue: { delaySeconds: 2 } } : { drains: [] };
  }
  const through = Number(cursorRow.through);
  const [changes, endpoints] = await db.batch([
    db
      .select({ version: roomChanges.version, frame: roomChanges.frame, createdAt: roomChanges.createdAt })
      .from(roomChanges)
      .where(and(eq(roomChanges.roomId, roomId), gt(roomChanges.version, through)))
      .orderBy(asc(roomChanges.version))
      .limit(CHANGES_PER_JOB),
    db
      .select({
        id: webhookEndpoints.id,
        eventTypes: webhookEndpoints.eventTypes,
        createdAt: webhookEndpoints.createdAt,
      })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.enabled, true)),
  ]);
  const last = changes[changes.length - 1]?.version ?? through;
  const events: ProductEvent[] = [];
  const deliveries: (typeof webhookDeliveries.$inferInsert)[] = [];
  for (const change of changes) {
    const event = eventOf(roomId, change.version, change.frame, change.createdAt);
    if (!event) continue;
    // An endpoint gets what happened after it was created, never the room's history before it.
    const to = endpoints.filter((e) => e.eventTypes.includes(event.type) && e.createdAt <= change.createdAt);
    if (to.length === 0) continue;
    events.push(event);
    for (const e of to) {
      deliveries.push({ endpointId: e.id, eventId: event.id, stream: roomId, orderKey: change.version });
    }
  }
  const statements: BatchItem<"pg">[] = [];
  if (events.length > 0) {
    statements.push(
      db
        .insert(integrationEvents)
        .values(
          events.map((e) => ({
            id: e.id,
            type: e.type,
            roomId,
            version: e.version,
            data: e.data,
            occurredAt: new Date(e.occurredAt),
            dispatchedAt: sql`now()`,
          })),
        )
        .onConflictDoNothing(),
      db.insert(webhookDeliveries).values(deliveries).onConflictDoNothing(),
    );
  }
  statements.push(
    db.execute(sql`update room_event_cursors set through = greatest(through, ${last}), lease_until = null
      where room_id = ${roomId}::uuid`),
  );
  await db.batch(statements as [BatchItem<"pg">, ...BatchItem<"pg">[]]);
  const drains = unique(deliveries.map((d) => ({ endpointId: d.endpointId, stream: d.stream })));
  return changes.length === CHANGES_PER_JOB ? { drains, requeue: { delaySeconds: 0 } } : { drains };
}

/**
 * Lifecycle events the triggers recorded, claimed and fanned out to subscribed endpoints in one statement
 * (so a crash leaves them either undispatched or with their deliveries, never claimed and lost).
 */
export async function dispatchPendingEvents(db: Db): Promise<{ drains: Drain[]; more: boolean }> {
  const batch = 500;
  const { rows } = await db.execute<{
    endpoint_id: string | null;
    stream: string | null;
    claimed: string | number;
  }>(sql`
    with claimed as (
      update integration_events set dispatched_at = now()
      where id in (
        select id from integration_events where dispatched_at is null
        order by created_at limit ${batch} for update skip locked
      )
      returning id, type, room_id, occurred_at, created_at
    ), delivered as (
      insert into webhook_deliveries (endpoint_id, event_id, stream, order_key)
      select e.id, c.id,
        case when c.type in ('room.created', 'room.deleted') then c.room_id::text else ${DEPLOYMENT_STREAM} end,
        case c.type when 'room.created' then ${FIRST}::bigint when 'room.deleted' then ${LAST}::bigint
          else (extract(epoch from c.occurred_at) * 1000000)::bigint end
      from claimed c
      join webhook_endpoints e on e.enabled and c.type = any(e.event_types) and e.created_at <= c.created_at
      on conflict do nothing
      returning endpoint_id, stream
    )
    select d.endpoint_id, d.stream, (select count(*) from claimed) as claimed
    from (select distinct endpoint_id, stream from delivered) d
    right join (select 1) one on true`);
  const claimed = Number(rows[0]?.claimed ?? 0);
  const drains = rows.flatMap((r) =>
    r.endpoint_id && r.stream ? [{ endpointId: r.endpoint_id, stream: r.stream }] : [],
  );
  return { drains, more: claimed === batch };
}

/** Events kept past their use: delivered ones after the retention, everything after 30 days. */
export async function pruneEvents(db: Db, retentionDays: number): Promise<number> {
  const { rows } = await db.execute<{ n: string | number }>(sql`
    with gone as (
      delete from integration_events ev
      where ev.created_at < now() - interval '30 days'
         or (ev.created_at < now() - make_interval(days => ${retentionDays})
             and not exists (select 1 from webhook_deliveries d where d.event_id = ev.id and d.state <> 'delivered'))
      returning 1
    ) select count(*) as n from gone`);
  return Number(rows[0]?.n ?? 0);
}

function unique(drains: Drain[]): Drain[] {
  const seen = new Map(drains.map((d) => [`${d.endpointId}|${d.stream}`, d]));
  return [...seen.values()];
}
