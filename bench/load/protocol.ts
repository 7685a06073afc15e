/** How the load generator talks to each system: the same frames, different addresses and credentials. */
export interface Target {
  name: "edgechat" | "floor";
  /** Where one subscriber (or sender) connects, with its headers. */
  sockets: { url: string; headers: Record<string, string> }[];
  /** Edgechat acks sends; the floor has nothing to ack with. */
  acks: boolean;
}

/** A send frame whose body carries its send time and pads to `bytes`. */
export function sendFrame(clientMsgId: string, sentAtUs: number, bytes: number): string {
  const stamp = JSON.stringify({ t: sentAtUs, p: "" });
  const body = JSON.stringify({ t: sentAtUs, p: "x".repeat(Math.max(0, bytes - stamp.length)) });
  return JSON.stringify({ type: "send", clientMsgId, body });
}

/** The send time carried by a delivered frame (edgechat `message`, or the floor's relayed `send`). */
export function deliveredStamp(text: string): number | null {
  if (!text.includes('"body"')) return null;
  const frame = JSON.parse(text) as { type?: string; body?: string };
  if ((frame.type !== "message" && frame.type !== "send") || typeof frame.body !== "string") return null;
  return (JSON.parse(frame.body) as { t: number }).t;
}
