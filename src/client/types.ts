/** Shapes the REST API answers with (the server's zod schemas type the requests). */
import type { AttachmentRef, MessageView } from "../protocol/frames";

export type { AttachmentRef, MessageView };

export interface User {
  id: string;
  email: string;
  displayName: string;
  createdAt: string;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

export type Role = "owner" | "admin" | "member";

export interface Room {
  id: string;
  kind: "group" | "direct";
  name: string | null;
  topic: string | null;
  isPublic: boolean;
  lastSeq: number;
  role: Role;
  createdAt: string;
  memberCount?: number;
}

export interface RoomListItem extends Room {
  unread: number;
  lastMessage: MessageView | null;
}

export interface Member {
  userId: string;
  displayName: string;
  role: Role;
  joinedAt: string;
  lastReadSeq: number;
}

export interface HistoryPage {
  messages: MessageView[];
  /** Pass back as `before` for older pages (newest-first), or `after` for forward pages. */
  nextBefore?: number | null;
  nextAfter?: number | null;
}

export interface NotificationView {
  id: string;
  kind: "digest" | "mention" | "direct";
  roomId: string;
  roomName: string | null;
  firstSeq: number;
  lastSeq: number;
  messageCount: number;
  senders: { id: string; displayName: string }[];
  text: string;
  preview: string;
  pending: boolean;
  read: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface Attachment {
  id: string;
  roomId: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string | null;
  state: "pending" | "uploaded" | "sent" | "deleted";
  uploadUrl: string;
  url: string;
}
