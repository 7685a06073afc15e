/** What the room moderation and block routes answer. */
import { z } from "zod";
import { id, timestamp } from "./common";

export const sanctionView = z.object({
  userId: id,
  kind: z.enum(["ban", "mute"]),
  until: timestamp.nullable(),
  reason: z.string().nullable(),
  by: id.nullable(),
  createdAt: timestamp,
});
export const sanctionReply = z.object({ sanction: sanctionView });
export const sanctionsReply = z.object({ sanctions: z.array(sanctionView) });
export const purgedReply = z.object({ deleted: z.number().int() });
export const blocksReply = z.object({
  blocks: z.array(z.object({ userId: id, displayName: z.string(), createdAt: timestamp })),
});
