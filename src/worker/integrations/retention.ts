/**
 * Integrations (issue 27), retention: messages older than their room's lifetime (room_retention.days, else
 * the deployment's RETENTION_DAYS; 0 keeps them forever) are removed everywhere and leave tombstones. The
 * hourly job finds them in Postgres and tells each room to tombstone them (`tombstone`, at most 500 per
 * command): the room scrubs them from its SQLite ring and change log, logs one `deleted` change each (so
 * clients catching up learn of it and seq stays gapless), refreshes their Redis buffer entries and writes
 * the tombstones through to Postgres, whose delete path also tombstones their attachments; the attachment
 * sweep of the same hourly cron removes those bytes from R2. A run cut short is finished by the next.
 */
import { sql } from "drizzle-orm";
import { createDb } from "../../db/client";
import { wholeSetting } from "../../lib/config";
import { logJson } from "../../lib/log";
import type { Actor } from "../../protocol/identity";
import { roomStub } from "../rooms";
import type { Bindings } from "../types";

const ROOMS_PER_ROUND = 20;
const SEQS_PER_COMMAND = 500;
const TIME_BUDGET_MS = 20_000;
/** Retention acts for nobody in particular; the room's commands need an actor, and this one names no user. */
const RETENTION_ACTOR = "00000000-0000-0000-0000-000000000000";

export async function applyRetention(env: Bindings): Promise<{ rooms: number; messages: number }> {
  const db = createDb(env);
  const deploymentDays = wholeSetting(env, "RETENTION_DAYS");
  const started = Date.now();
  let rooms = 0;
  let expired = 0;
  const skip = new Set<string>();
  while (Date.now() - started < TIME_BUDGET_MS) {
    const { rows } = await db.execute<{ room_id: string; seqs: (number | string)[] | string }>(sql`
      select r.id as room_id, array(
        select m.seq from messages m
        where m.room_id = r.id and m.deleted_at is null
          and m.created_at < now() - make_interval(days => coalesce(rr.days, ${deploymentDays}))
        order by m.seq limit ${SEQS_PER_COMMAND}
      ) as seqs
      from rooms r left join room_retention rr on rr.room_id = r.id
      where coalesce(rr.days, ${deploymentDays}) > 0
        and not (r.id = any(${sql.param([...skip])}::uuid[]))
        and exists (
          select 1 from messages m
          where m.room_id = r.id and m.deleted_at is null
            and m.created_at < now() - make_interval(days => coalesce(rr.days, ${deploymentDays}))
        )
      limit ${ROOMS_PER_ROUND}`);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seqs = (Array.isArray(row.seqs) ? row.seqs : row.seqs.replace(/[{}]/g, "").split(",")).map(Number);
      const actor: Actor = { roomId: row.room_id, userId: RETENTION_ACTOR, role: "admin" };
      const stub = roomStub(env, row.room_id);
      try {
        const result = await stub.command(actor, { type: "tombstone", seqs });
        if (result.status === "rejected") throw new Error(result.message);
        // Written through before the next round reads Postgres again, so it does not pick the same seqs.
        await stub.drainOutbox();
        expired += "count" in result ? (result.count ?? 0) : 0;
        rooms++;
      } catch (err) {
        logJson("error", { msg: "retention failed for a room", roomId: row.room_id, error: (err as Error).message });
        skip.add(row.room_id);
      }
      // Each room gets one command per run unless it had a full one (a backlog): fairness across rooms.
      if (seqs.length < SEQS_PER_COMMAND) skip.add(row.room_id);
    }
  }
  if (expired > 0) logJson("info", { msg: "retention", rooms, messages: expired });
  return { rooms, messages: expired };
}

/** Whether this deployment or any room keeps messages for a limited time (the job has work to look for). */
export async function retentionConfigured(env: Bindings): Promise<boolean> {
  if (wholeSetting(env, "RETENTION_DAYS") > 0) return true;
  const { rows } = await createDb(env).execute<{ any: boolean }>(
    sql`select exists (select 1 from room_retention) as any`,
  );
  return Boolean(rows[0]?.any);
}
