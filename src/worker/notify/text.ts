import type { NotificationKind } from "../../db/notification-schema";

export interface TextInput {
  kind: NotificationKind;
  messageCount: number;
  roomKind: "group" | "direct";
  roomName: string | null;
  senderNames: string[];
}

/** "Ana", "Ana and Ben", "Ana and 2 others". */
export function sendersPhrase(names: string[]): string {
  const [first, second] = names;
  if (!first) return "someone";
  if (names.length === 1) return first;
  if (names.length === 2) return `${first} and ${second}`;
  return `${first} and ${names.length - 1} others`;
}

/** The one line every channel shows, e.g. "5 new messages in #design from Ana and 2 others". */
export function notificationText(n: TextInput): string {
  const who = sendersPhrase(n.senderNames);
  const where = n.roomKind === "direct" || !n.roomName ? "a direct chat" : `#${n.roomName}`;
  if (n.kind === "mention") return `${who} mentioned you in ${where}`;
  if (n.kind === "direct")
    return n.messageCount === 1 ? `New message from ${who}` : `${n.messageCount} new messages from ${who}`;
  return n.messageCount === 1
    ? `New message in ${where} from ${who}`
    : `${n.messageCount} new messages in ${where} from ${who}`;
}

/** Previews are short: a lock screen shows a line, and the full text is one request away. */
export function previewOf(body: string, max = 140): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
