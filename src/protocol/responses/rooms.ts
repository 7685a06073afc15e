/** Answers of the room, member, people and WebSocket-ticket routes. */
import { z } from "zod";
import { customData } from "../frames";
import { id, nextCursor, role, seq, timestamp, userKind, userRef } from "./common";
import { roomVersion } from "./messages";

export const room = z.object({
  id,
  kind: z.enum(["group", "direct"]),
  name: z.string().nullable(),
  topic: z.string().nullable(),
  isPublic: z.boolean(),
  lastSeq: seq,
  lastMessageAt: timestamp.nullable(),
  createdAt: timestamp,
  /** The caller's role in the room. */
  role,
  /** The app's custom data for the room (a JSON object); null when unset. */
  custom: customData.nullable(),
  /** Slow mode: one message per this many seconds per member (0: off). */
  slowModeSeconds: z.number().int().min(0),
  /** Direct rooms: the other person, whom the room is named after; null for group rooms. */
  peer: userRef.nullable(),
});

/** How far a member has read: every message up to `seq` (0: nothing yet). */
export const readMark = z.object({ userId: id, seq });

/**
 * GET /api/rooms/:id: the room with every member's read mark, read in one snapshot with `version`, the
 * room's change-log version they reflect (catch up from it for what changed since).
 */
export const roomDetail = room.extend({
  memberCount: z.number().int(),
  version: roomVersion,
  readMarks: z.array(readMark),
});

/** A room in my list: its last message in brief (null body when deleted) and my unread count. */
export const roomListItem = room.extend({
  unread: z.number().int(),
  lastMessage: z.object({ seq, senderId: id, body: z.string().nullable(), createdAt: timestamp.nullable() }).nullable(),
});

export const roomReply = z.object({ room });
export const roomDetailReply = z.object({ room: roomDetail });
export const roomListReply = z.object({ rooms: z.array(roomListItem), nextCursor });

export const member = z.object({
  userId: id,
  displayName: z.string(),
  kind: userKind,
  role,
  joinedAt: timestamp,
  lastReadSeq: seq,
});
export const membersReply = z.object({ members: z.array(member) });
export const invitedReply = z.object({ member: z.object({ userId: id, role: z.enum(["admin", "member"]) }) });

/** People search answers ids and names only, never emails. */
export const usersReply = z.object({ users: z.array(userRef) });

export const wsTicketReply = z.object({ ticket: z.string(), expiresIn: z.number().int() });
