/**
 * Files shared in rooms. The bytes live in R2 under `r2_key`; this row is the metadata and the state:
 * pending (created, bytes not yet uploaded), uploaded (in R2, not yet in a message), sent (referenced by
 * message `message_seq`), deleted (its message was deleted, or it was an orphan; bytes removed by the sweep).
 */
import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { rooms, users } from "./schema";

export const ATTACHMENT_STATES = ["pending", "uploaded", "sent", "deleted"] as const;

export const attachments = pgTable(
  "attachments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    uploaderId: uuid("uploader_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    sha256: text("sha256"),
    r2Key: text("r2_key").notNull().unique(),
    state: text("state", { enum: ATTACHMENT_STATES }).notNull().default("pending"),
    messageSeq: bigint("message_seq", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    uploadedAt: timestamp("uploaded_at", { withTimezone: true }),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /** When the sweep removed the bytes of a deleted attachment from R2. */
    purgedAt: timestamp("purged_at", { withTimezone: true }),
  },
  (t) => [
    index("attachments_room_seq_idx").on(t.roomId, t.messageSeq),
    // The orphan sweep: never-sent uploads by age, and tombstones whose bytes are still in R2.
    index("attachments_state_created_idx").on(t.state, t.createdAt),
    check("attachments_state_check", sql`${t.state} in ('pending', 'uploaded', 'sent', 'deleted')`),
  ],
);

export type Attachment = typeof attachments.$inferSelect;
