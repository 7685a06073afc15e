/** Room and message request bodies, shared by REST routes, the OpenAPI document and clients. */
import { z } from "zod";
import { customData, emoji } from "./frames";
import { slowModeSeconds } from "./moderation";

const roomName = z.string().trim().min(1, "must not be empty").max(100, "at most 100 characters");
const topic = z.string().trim().max(500, "at most 500 characters");

export const createRoomBody = z.strictObject({
  name: roomName,
  topic: topic.optional(),
  isPublic: z.boolean().optional(),
  members: z.array(z.uuid()).max(100).optional(),
  /** The app's own data for the room: a JSON object of at most MAX_CUSTOM_BYTES. */
  custom: customData.optional(),
});
export const directRoomBody = z.strictObject({ userId: z.uuid() });
export const updateRoomBody = z
  .strictObject({
    name: roomName.optional(),
    topic: topic.nullable().optional(),
    isPublic: z.boolean().optional(),
    /** Replaces the room's custom data; null clears it. */
    custom: customData.nullable().optional(),
    /** Slow mode: one message per this many seconds per member, 0 turns it off (owners and admins exempt). */
    slowModeSeconds: slowModeSeconds.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "send at least one field");
export const inviteBody = z.strictObject({ userId: z.uuid(), role: z.enum(["admin", "member"]).optional() });
export const readBody = z.strictObject({ seq: z.number().int().min(0) });

/** Keyset pagination over seq: newest first by default; `after` pages forward (oldest first). */
export const historyQuery = z.strictObject({
  before: z.coerce.number().int().positive().optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const pageQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const searchQuery = z.strictObject({
  q: z.string().trim().min(1, "must not be empty").max(200, "at most 200 characters"),
  roomId: z.uuid().optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export const threadQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const reactionBody = z.strictObject({ emoji });

/** POST /api/rooms/:id/attachments: announce a file, then PUT its bytes to the returned uploadUrl. */
export const createAttachmentBody = z.strictObject({
  filename: z.string().trim().min(1).max(255),
  contentType: z.string().trim().min(3).max(127),
  size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

/** GET /api/users: find people to start a chat with, by display name prefix or exact email. */
export const userSearchQuery = z.strictObject({
  q: z.string().trim().min(1, "must not be empty").max(100),
  limit: z.coerce.number().int().min(1).max(20).default(10),
});
