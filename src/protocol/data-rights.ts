/** Integrations (issue 27): data exports, account deletion, retention. */
import { z } from "zod";
import { id, timestamp } from "./responses/common";

export const exportView = z.object({
  id,
  /** pending: being built in the background; ready: download it; expired: ask for a new one. */
  state: z.enum(["pending", "ready", "failed", "expired"]),
  size: z.number().int().nullable(),
  createdAt: timestamp,
  completedAt: timestamp.nullable(),
  expiresAt: timestamp.nullable(),
});
export const exportReply = z.object({ export: exportView });
export const exportList = z.object({ exports: z.array(exportView) });

export const deleteAccountBody = z.strictObject({
  /** The account's password, asked again: deleting cannot be undone. */
  password: z.string().min(1).max(256),
});

export const deletionReply = z.object({
  deletion: z.object({
    userId: id,
    state: z.enum(["running", "done", "failed"]),
    /** delete: messages become tombstones; anonymise: kept, shown as from "Deleted user". */
    policy: z.enum(["delete", "anonymise"]),
    error: z.string().nullable(),
    createdAt: timestamp,
    completedAt: timestamp.nullable(),
  }),
});

export const retentionBody = z.strictObject({ days: z.number().int().min(1).max(36_500) });
export const retentionReply = z.object({
  roomId: id,
  /** This room's own lifetime in days, or null for the deployment's. */
  days: z.number().int().nullable(),
  deploymentDays: z.number().int(),
  /** What applies (0: kept forever). */
  effectiveDays: z.number().int(),
  /** A deployment admin's lifetime for this room, which binds its owner; null when none. */
  adminDays: z.number().int().nullable(),
  /** The longest the room's owner may choose (PUT /api/rooms/:id/retention); 0: no limit. */
  ownerMaxDays: z.number().int(),
});
