/** Answers of the attachment routes. */
import { z } from "zod";
import { id, timestamp } from "./common";

export const attachment = z.object({
  id,
  roomId: id,
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  /** Hex SHA-256 of the bytes, once uploaded. */
  sha256: z.string().nullable(),
  state: z.enum(["pending", "uploaded", "sent", "deleted"]),
  /** Where to PUT the bytes. */
  uploadUrl: z.string(),
  /** Where to GET them. */
  url: z.string(),
  createdAt: timestamp,
});

export const attachmentReply = z.object({ attachment });
export const announcedReply = z.object({
  attachment,
  upload: z.object({ method: z.literal("PUT"), url: z.string() }),
});
