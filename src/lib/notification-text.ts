/**
 * The words of a notification, shared by every channel: the worker's deliveries and the inbox objects'
 * live lists (src/lib, so both layers read one rule).
 */

/** One of notification-schema's NOTIFICATION_KINDS (src/lib cannot import the schema). */
export type NotificationTextKind = "digest" | "mention" | "direct";

export interface TextInput {
  kind: NotificationTextKind;
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
