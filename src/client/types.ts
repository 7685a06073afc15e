/**
 * Shapes the REST API answers with, inferred from the response schemas the server's routes declare
 * (src/protocol/responses), so the SDK cannot drift from what is served and documented.
 */
import type { z } from "zod";
import type { attachment } from "../protocol/responses/attachments";
import type { signedIn, tokens, user } from "../protocol/responses/auth";
import type { attachmentRef, historyPage, messageView } from "../protocol/responses/messages";
import type { notificationSettings, notificationView } from "../protocol/responses/notifications";
import type { member, room, roomDetail, roomListItem } from "../protocol/responses/rooms";

export type User = z.infer<typeof user>;
export type SignedIn = z.infer<typeof signedIn>;
export type Tokens = z.infer<typeof tokens>;
export type Room = z.infer<typeof room>;
export type Role = Room["role"];
export type RoomDetail = z.infer<typeof roomDetail>;
export type RoomListItem = z.infer<typeof roomListItem>;
export type Member = z.infer<typeof member>;
export type MessageView = z.infer<typeof messageView>;
export type AttachmentRef = z.infer<typeof attachmentRef>;
export type HistoryPage = z.infer<typeof historyPage>;
export type NotificationView = z.infer<typeof notificationView>;
export type NotificationSettings = z.infer<typeof notificationSettings>;
export type Attachment = z.infer<typeof attachment>;

/** What the SDK keeps between runs (see ClientOptions.onSession); not a server shape. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}
