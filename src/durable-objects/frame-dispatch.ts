/**
 * Routes one client frame to what handles it: commands (send, edit, delete, react, read) to the room's
 * one command path, the rest (ping, typing, resume, auth.refresh) to their handlers. Whatever a frame
 * is, the socket gets an answer: an ack, an error, or the effect itself.
 */
import type { ClientFrame } from "../protocol/frames";
import type { Actor } from "../protocol/identity";
import type { CommandResult, MemberAction, RoomCommand } from "../protocol/room-rpc";
import { type ConnectionState, closeQuietly } from "./connection";
import { commandRef, parseFrame, replyFor } from "./frame-parse";
import { roomLog } from "./room-log";
import { type SocketRegistry, send } from "./sockets";

/** Per-socket lastFrameAt is rewritten at most this often, to spare attachment writes. */
const HEARTBEAT_WRITE_MS = 30_000;

export interface FrameHandlers {
  sockets: SocketRegistry;
  roomId: () => string | null;
  apply: (actor: Actor, command: RoomCommand) => Promise<CommandResult>;
  resume: (ws: WebSocket, lastSeq: number) => Promise<void>;
  sync: (ws: WebSocket, since: number) => Promise<void>;
  refreshAuth: (ws: WebSocket, conn: ConnectionState, token: string) => Promise<void>;
  /** Called after a throttled send: closes the socket if its sender keeps going (1008). */
  throttled: (ws: WebSocket, conn: ConnectionState) => void;
}

/** `setRef` names the frame for the error path, so an unexpected throw is answered with the right ref. */
export async function dispatchFrame(
  ws: WebSocket,
  message: string | ArrayBuffer,
  h: FrameHandlers,
  setRef: (ref: string) => void,
): Promise<void> {
  const conn = h.sockets.of(ws);
  if (!conn) return closeQuietly(ws, 1011, "missing connection state");
  const now = Date.now();
  if (now - conn.lastFrameAt > HEARTBEAT_WRITE_MS) h.sockets.update(ws, { lastFrameAt: now });
  const parsed = parseFrame(message);
  if (parsed.kind === "close") return closeQuietly(ws, parsed.code, parsed.reason);
  if (parsed.kind === "refused") {
    roomLog.refused(h.roomId(), conn, parsed.reply.code);
    return send(ws, parsed.reply);
  }
  const frame = parsed.frame;
  switch (frame.type) {
    case "ping":
      return send(ws, { type: "pong" });
    case "typing":
      // Typing is never stored; clients expire it themselves if no update follows.
      return h.sockets.broadcast({ type: "typing", userId: conn.userId, on: frame.on }, ws);
    case "resume":
      setRef("resume");
      return h.resume(ws, frame.lastSeq);
    case "sync":
      setRef("sync");
      return h.sync(ws, frame.since);
    case "auth.refresh":
      setRef("auth.refresh");
      return h.refreshAuth(ws, conn, frame.token);
    default:
      setRef(commandRef(frame));
      return runFromSocket(ws, conn, frame, h);
  }
}

async function runFromSocket(
  ws: WebSocket,
  conn: ConnectionState,
  command: Extract<ClientFrame, MemberAction>,
  h: FrameHandlers,
): Promise<void> {
  const actor: Actor = {
    roomId: h.roomId() ?? "",
    userId: conn.userId,
    role: conn.role,
    ...(conn.requestId ? { requestId: conn.requestId } : {}),
  };
  const started = Date.now();
  const result = await h.apply(actor, command);
  const reply = replyFor(command, result);
  if (reply) send(ws, reply);
  if (result.status === "accepted") {
    roomLog.accepted(actor.roomId, conn, result.message.seq, result.message.body?.length ?? 0, Date.now() - started);
  } else if (result.status === "throttled") {
    roomLog.throttled(actor.roomId, conn, result.retryAfterMs);
    h.throttled(ws, conn);
  }
}
