/** How the load generator talks to each system: the same frames, different addresses and credentials. */
export interface Target {
  name: string;
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

/**
 * Socket.IO speaks Engine.IO over the same WebSocket: `40` connects the namespace, `2`/`3` are the
 * server's ping and our pong, and events are `42["name",payload]`. The generator speaks it directly, so
 * every system is driven by the same client code.
 */
export type Dialect = "edgechat" | "socketio";
export const SIO_CONNECT = "40";
export const SIO_PING = "2";
export const SIO_PONG = "3";

export function sioSendFrame(clientMsgId: string, sentAtUs: number, bytes: number): string {
  const frame = JSON.parse(sendFrame(clientMsgId, sentAtUs, bytes)) as { clientMsgId: string; body: string };
  return `42${JSON.stringify(["send", { clientMsgId: frame.clientMsgId, body: frame.body }])}`;
}

/** The clientMsgId of an ack, in either dialect; null for anything else. */
export function ackedId(text: string): string | null {
  if (text.startsWith('{"type":"ack"')) return (JSON.parse(text) as { clientMsgId: string }).clientMsgId;
  if (text.startsWith('42["ack"'))
    return (JSON.parse(text.slice(2)) as [string, { clientMsgId: string }])[1].clientMsgId;
  return null;
}

/**
 * The send times carried by one received WebSocket frame: one for a plain frame, each message's for an
 * edgechat `batch {frames}` (several changes in one frame, negotiated with `?batch=1`), none for others.
 * With `prefix`, only sends whose clientMsgId starts with it count (a run's own, not a warm-up's late ones).
 */
export function deliveredStamps(text: string, prefix?: string): number[] {
  if (!text.includes('"body"')) return [];
  let frames: { type?: string; body?: unknown; clientMsgId?: unknown }[];
  if (text.startsWith('42["message"')) {
    frames = [{ type: "message", ...(JSON.parse(text.slice(2)) as [string, object])[1] }];
  } else {
    const frame = JSON.parse(text) as { type?: string; frames?: typeof frames };
    frames = frame.type === "batch" ? (frame.frames ?? []) : [frame];
  }
  const out: number[] = [];
  for (const f of frames) {
    if ((f.type !== "message" && f.type !== "send") || typeof f.body !== "string" || !f.body.startsWith('{"t":'))
      continue;
    if (prefix && typeof f.clientMsgId === "string" && !f.clientMsgId.startsWith(prefix)) continue;
    out.push((JSON.parse(f.body) as { t: number }).t);
  }
  return out;
}
