/**
 * Product events (issue 27): what an admin's webhook endpoint receives, and the admin API that manages
 * endpoints. Every event is one JSON body `{id, type, occurredAt, roomId, version, data}`, signed like the
 * notification webhooks. `id` is stable across retries and replays; room events (message, reaction,
 * member, room updated) carry the room's change-log `version`, gapless per room, so a receiver can order
 * and dedupe them per room. These schemas are also the OpenAPI document's `webhooks` section.
 */
import { z } from "zod";
import { id, role, seq, timestamp } from "./responses/common";
import { messageView } from "./responses/messages";

export const EVENT_TYPES = [
  "message.created",
  "message.edited",
  "message.deleted",
  "reaction.changed",
  "member.added",
  "member.removed",
  "member.role_changed",
  "member.banned",
  "room.created",
  "room.updated",
  "room.deleted",
  "user.created",
  "user.banned",
  "user.deleted",
  "report.created",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events of these types come from a room's change log and carry its version. */
export const ROOM_CHANGE_EVENTS: readonly EventType[] = [
  "message.created",
  "message.edited",
  "message.deleted",
  "reaction.changed",
  "member.added",
  "member.removed",
  "member.role_changed",
  "member.banned",
  "room.updated",
];

const userRef = z.object({ id, displayName: z.string() });

/** The `data` of each event type. */
export const EVENT_DATA = {
  "message.created": z.object({ message: messageView }),
  "message.edited": z.object({ seq, body: z.string(), editedAt: timestamp }),
  "message.deleted": z.object({ seq, deletedAt: timestamp }),
  "reaction.changed": z.object({ seq, userId: id, emoji: z.string(), on: z.boolean() }),
  "member.added": z.object({ userId: id, role, by: id }),
  "member.removed": z.object({
    userId: id,
    /** left: by themselves; removed: by a room owner or admin (`by`). */
    change: z.enum(["left", "removed"]),
    by: id.optional(),
  }),
  "member.role_changed": z.object({ userId: id, role, by: id }),
  "member.banned": z.object({ userId: id, by: id, until: timestamp.nullable() }),
  "room.created": z.object({
    room: z.object({
      id,
      kind: z.enum(["group", "direct"]),
      name: z.string().nullable(),
      topic: z.string().nullable(),
      isPublic: z.boolean(),
      createdBy: id.nullable(),
      createdAt: z.string(),
    }),
  }),
  "room.updated": z.object({
    changes: z.object({
      name: z.string().optional(),
      topic: z.string().nullable().optional(),
      isPublic: z.boolean().optional(),
      custom: z.record(z.string(), z.unknown()).nullable().optional(),
      slowModeSeconds: z.number().int().optional(),
    }),
    by: id,
  }),
  "room.deleted": z.object({
    room: z.object({ id, kind: z.enum(["group", "direct"]), name: z.string().nullable() }),
  }),
  "user.created": z.object({
    user: userRef.extend({ kind: z.enum(["user", "bot", "service"]), createdAt: z.string() }),
  }),
  "user.banned": z.object({ user: userRef, reason: z.string().nullable(), bannedAt: z.string() }),
  "user.deleted": z.object({ userId: id, policy: z.enum(["delete", "anonymise"]) }),
  "report.created": z.object({
    report: z.object({
      id,
      roomId: id,
      seq: seq.nullable(),
      targetUserId: id,
      reporterId: id,
      reason: z.string(),
      text: z.string().nullable(),
      createdAt: z.string(),
    }),
  }),
} satisfies Record<EventType, z.ZodType>;

export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

/** The body of every call: one event. */
export function eventEnvelope<T extends EventType>(type: T) {
  return z.object({
    /** Stable: `<roomId>:<version>` for room events, a uuid otherwise. Drop repeats by it. */
    id: z.string(),
    type: z.literal(type),
    occurredAt: timestamp,
    /** The room the event is about, if any. */
    roomId: id.nullable(),
    /** Room events: the room's change-log version (gapless per room, increasing); otherwise null. */
    version: z.number().int().positive().nullable(),
    data: EVENT_DATA[type],
  });
}

export interface ProductEvent {
  id: string;
  type: EventType;
  occurredAt: string;
  roomId: string | null;
  version: number | null;
  data: unknown;
}

// --- the admin API --------------------------------------------------------------------------------

const eventTypes = z
  .array(z.enum(EVENT_TYPES))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((s) => new Set(s).size === s.length, "must not repeat an event type");
const url = z.string().trim().min(1).max(2048);

export const createEndpointBody = z.strictObject({
  url,
  eventTypes,
  description: z.string().trim().max(500).optional(),
});

export const updateEndpointBody = z
  .strictObject({
    url: url.optional(),
    eventTypes: eventTypes.optional(),
    description: z.string().trim().max(500).nullable().optional(),
    /** true re-enables a disabled endpoint (its failure clock starts again); false pauses it. */
    enabled: z.boolean().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "name at least one field to change");

export const replayBody = z
  .strictObject({
    /** These dead letters (event ids); or `all: true` for every dead letter of the endpoint. */
    eventIds: z.array(z.string().min(1).max(100)).min(1).max(1000).optional(),
    all: z.literal(true).optional(),
  })
  .refine((b) => (b.eventIds === undefined) !== (b.all === undefined), "give eventIds or all: true");

export const deadLettersPageQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const endpointView = z.object({
  id,
  url: z.string(),
  description: z.string().nullable(),
  eventTypes: z.array(z.enum(EVENT_TYPES)),
  enabled: z.boolean(),
  /** Start of the current run of failures (null: the last call succeeded). */
  failingSince: timestamp.nullable(),
  disabledAt: timestamp.nullable(),
  disabledReason: z.string().nullable(),
  pending: z.number().int().min(0),
  deadLetters: z.number().int().min(0),
  createdAt: timestamp,
});
export const endpointReply = z.object({ endpoint: endpointView });
export const createdEndpoint = z.object({
  endpoint: endpointView,
  /** Signs every call (Edgechat-Signature); shown this once. */
  secret: z.string(),
});
export const endpointList = z.object({ endpoints: z.array(endpointView) });

export const deadLetterView = z.object({
  eventId: z.string(),
  type: z.enum(EVENT_TYPES),
  roomId: id.nullable(),
  version: z.number().int().nullable(),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deadAt: timestamp,
  event: z.unknown(),
});
export const deadLettersPage = z.object({ deadLetters: z.array(deadLetterView), nextCursor: z.string().nullable() });
export const replayReply = z.object({ replayed: z.number().int().min(0) });
