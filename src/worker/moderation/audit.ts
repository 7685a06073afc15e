/**
 * The moderation audit log: who did what to whom (or to which message), where, when and why. Every
 * moderation action writes one entry; deployment admins read them at GET /api/admin/audit.
 *
 * Action names in use: ban, unban, mute, unmute, purge (room moderation); report, report_actioned,
 * report_dismissed, report_reopened (reports); content_rule_added, content_rule_removed. Lower-case words
 * joined by `_` (GET /api/admin/audit filters on them).
 */
import type { Db } from "../../db/client";
import { moderationAudit } from "../../db/moderation-schema";

export interface AuditEntry {
  /** Who acted; null for the system. */
  actorId: string | null;
  /** Lower-case, e.g. "ban" or "report_dismissed" (see above). */
  action: string;
  roomId?: string | null;
  targetUserId?: string | null;
  /** The message acted on, if one was. */
  seq?: number | null;
  reason?: string | null;
  details?: Record<string, unknown> | null;
}

function row(entry: AuditEntry): typeof moderationAudit.$inferInsert {
  return {
    actorId: entry.actorId,
    action: entry.action,
    roomId: entry.roomId ?? null,
    targetUserId: entry.targetUserId ?? null,
    seq: entry.seq ?? null,
    reason: entry.reason ?? null,
    details: entry.details ?? null,
  };
}

/** The insert, unawaited: put it in a `db.batch([...])` to commit it with the action it records. */
export function auditInsert(db: Db, entry: AuditEntry) {
  return db.insert(moderationAudit).values(row(entry));
}

/** Writes one entry. */
export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await auditInsert(db, entry);
}
