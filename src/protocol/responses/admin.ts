/** Answers of the operators' API (/api/admin/*). */
import { z } from "zod";
import { id, nextCursor, role, seq, timestamp, userKind } from "./common";

export const adminStats = z.object({
  users: z.number().int(),
  rooms: z.number().int(),
  banned: z.number().int(),
  deadLetters: z.number().int(),
  messagesPerHour: z.array(z.object({ hour: timestamp, messages: z.number().int() })),
  live: z.object({
    sockets: z.number().int(),
    unreachable: z.number().int(),
    roomsAsked: z.number().int(),
    /** More rooms were active than were asked. */
    truncated: z.boolean(),
  }),
});

export const adminRoom = z.object({
  room: z.object({
    id,
    kind: z.enum(["group", "direct"]),
    name: z.string().nullable(),
    topic: z.string().nullable(),
    isPublic: z.boolean(),
    directKey: z.string().nullable(),
    createdBy: id.nullable(),
    lastSeq: seq,
    lastMessageAt: timestamp.nullable(),
    createdAt: timestamp,
    members: z.number().int(),
  }),
  /** Null when the room object did not answer in time. */
  live: z
    .object({
      sockets: z.number().int(),
      online: z.array(id),
      lastSeq: seq,
      outbox: z.object({
        depth: z.number().int(),
        oldestAt: z.number().nullable(),
        deadLetters: z.number().int(),
        oldestAgeMs: z.number().nullable(),
      }),
      buffer: z.object({ min: seq, max: seq, count: z.number().int() }).nullable(),
      throttleHits: z.number().int(),
    })
    .nullable(),
  /** Behind live.lastSeq while write-through is still catching up. */
  postgresLastSeq: seq,
});

export const adminUser = z.object({
  id,
  email: z.email(),
  displayName: z.string(),
  kind: userKind,
  admin: z.boolean(),
  bannedAt: timestamp.nullable(),
  banReason: z.string().nullable(),
  createdAt: timestamp,
});
export const adminUserReply = z.object({ user: adminUser });
export const adminUserDetail = z.object({
  user: adminUser,
  rooms: z.array(z.object({ roomId: id, role, name: z.string().nullable(), kind: z.enum(["group", "direct"]) })),
});

export const deadLettersReply = z.object({
  deadLetters: z.array(
    z.object({
      id,
      messageId: z.string(),
      queue: z.string(),
      /** The job as it was queued. */
      body: z.unknown(),
      reason: z.string(),
      attempts: z.number().int(),
      createdAt: timestamp,
    }),
  ),
  /** Jobs that failed and will be tried again. */
  retrying: z.number().int(),
  nextCursor,
});
