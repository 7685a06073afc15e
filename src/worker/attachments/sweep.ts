/**
 * The hourly sweep (cron trigger): uploads never sent within ATTACHMENT_ORPHAN_HOURS become tombstones,
 * and the bytes of every tombstone (orphan or deleted message) are removed from R2. Each step is
 * idempotent, so a sweep cut short is finished by the next one.
 */
import { and, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { attachments } from "../../db/attachment-schema";
import { createDb } from "../../db/client";
import { attachmentPolicy } from "../../lib/attachment-policy";
import { logJson } from "../../lib/log";
import type { Bindings } from "../types";

const BATCH = 500;
const MAX_BATCHES = 20;

export async function sweepAttachments(env: Bindings): Promise<{ orphaned: number; purged: number }> {
  const db = createDb(env);
  const { orphanHours } = attachmentPolicy(env);
  const orphaned = await db
    .update(attachments)
    .set({ state: "deleted", deletedAt: sql`now()` })
    .where(
      and(
        inArray(attachments.state, ["pending", "uploaded"]),
        lt(attachments.createdAt, sql`now() - ${orphanHours} * interval '1 hour'`),
      ),
    )
    .returning({ id: attachments.id });
  let purged = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const rows = await db
      .select({ id: attachments.id, key: attachments.r2Key })
      .from(attachments)
      .where(and(eq(attachments.state, "deleted"), isNull(attachments.purgedAt)))
      .limit(BATCH);
    if (rows.length === 0) break;
    await env.ATTACHMENTS.delete(rows.map((r) => r.key));
    await db
      .update(attachments)
      .set({ purgedAt: sql`now()` })
      .where(
        inArray(
          attachments.id,
          rows.map((r) => r.id),
        ),
      );
    purged += rows.length;
  }
  logJson("info", { msg: "attachment sweep", orphaned: orphaned.length, purged });
  return { orphaned: orphaned.length, purged };
}

/** A deleted room's files: its rows are gone with the room, so the bytes are found by key prefix. */
export async function deleteRoomFiles(env: Bindings, roomId: string): Promise<number> {
  let removed = 0;
  let cursor: string | undefined;
  do {
    const page = await env.ATTACHMENTS.list({ prefix: `rooms/${roomId}/`, cursor, limit: 1000 });
    if (page.objects.length) await env.ATTACHMENTS.delete(page.objects.map((o) => o.key));
    removed += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return removed;
}
