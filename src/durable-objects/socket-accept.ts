/**
 * A WebSocket upgrade the worker has authenticated and authorised: the room records a ticket once,
 * accepts the socket with the Hibernation API, welcomes it and announces the user if they just arrived.
 */
import { PROTOCOL_VERSION } from "../protocol/frames";
import { IDENTITY_HEADERS, type Role } from "../protocol/identity";
import { type AlarmClock, MIN_DELAY_MS } from "./alarm-clock";
import { type ConnectionState, userTag } from "./connection";
import type { Heartbeats } from "./heartbeats";
import type { MemberCache } from "./member-cache";
import type { PresenceAnnouncer } from "./presence";
import { roomLog } from "./room-log";
import type { RoomStore } from "./room-store";
import { type SocketRegistry, send } from "./sockets";

export interface AcceptDeps {
  ctx: DurableObjectState;
  store: RoomStore;
  sockets: SocketRegistry;
  presence: PresenceAnnouncer;
  heartbeats: Heartbeats;
  alarms: AlarmClock;
  /** Who may connect, as far as the room can vouch (member-cache.ts). */
  members: MemberCache;
  learnRoomId: (roomId: string) => void;
  /** Starts a protocol-2 catch-up from `since` on a socket accepted held. */
  sync: (ws: WebSocket, since: number) => void;
}

/** `?since=<version>` (protocol 2): a whole number, else null (protocol 1: live at once). */
export function sinceParam(url: string): number | null {
  const text = new URL(url).searchParams.get("since");
  if (text === null || !/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}

/**
 * `?batch=1`: the client unpacks `batch {frames}` (frame-batch.ts). Honoured with protocol 2 only: a
 * batch lost to a reset object shows as a gap in `v`, which only a protocol 2 client can see and sync.
 */
export function batchParam(url: string, since: number | null): boolean {
  return since !== null && new URL(url).searchParams.get("batch") === "1";
}

/**
 * The member's role for this upgrade, or the epoch to send back when the room cannot vouch for them. A
 * role with an epoch is the worker's Postgres answer (member-cache.ts decides whether it still holds); a
 * role alone is a worker that checked Postgres without asking the room (kept for rolling deploys).
 */
function memberRoleFor(request: Request, userId: string, members: MemberCache): Role | number {
  const role = request.headers.get(IDENTITY_HEADERS.role) as Role | null;
  const epoch = request.headers.get(IDENTITY_HEADERS.membershipEpoch);
  if (role && epoch !== null) {
    return members.confirm(userId, role, Number(epoch)) === "retry" ? members.epoch() : role;
  }
  if (role) return role;
  const known = members.lookup(userId);
  return known.known ? known.role : known.epoch;
}

export function acceptSocket(request: Request, deps: AcceptDeps): Response {
  const { ctx, store, sockets } = deps;
  const h = (name: string) => request.headers.get(name);
  const userId = h(IDENTITY_HEADERS.userId);
  const roomId = h(IDENTITY_HEADERS.roomId);
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !roomId) {
    // Only the worker talks to this object, always with identity; anything else is a bug upstream.
    return new Response("expected an authenticated WebSocket upgrade from the worker", { status: 400 });
  }
  // Membership first: an upgrade the room cannot vouch for goes back to the worker (which asks Postgres
  // and comes again) without using up its ticket or teaching the room anything.
  const role = memberRoleFor(request, userId, deps.members);
  if (typeof role === "number") {
    return Response.json(
      { error: { code: "membership_unknown", message: "ask Postgres, then come again with the role" } },
      { status: 409, headers: { [IDENTITY_HEADERS.membershipEpoch]: String(role) } },
    );
  }
  deps.learnRoomId(roomId);
  const now = Date.now();
  const ticketId = h(IDENTITY_HEADERS.ticketId);
  if (ticketId && !store.useTicket(ticketId, Number(h(IDENTITY_HEADERS.ticketExpiresAt)) * 1000, now)) {
    return Response.json({ error: { code: "unauthorized", message: "ticket already used" } }, { status: 401 });
  }
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  const firstSocketOfUser = sockets.live(userId).next().done === true;
  // Tagged per user so operators' tools can address one user's sockets without waking every attachment.
  ctx.acceptWebSocket(server, [userTag(userId)]);
  const requestId = h(IDENTITY_HEADERS.requestId);
  const since = sinceParam(request.url);
  const state: ConnectionState = {
    userId,
    connId: crypto.randomUUID(),
    role,
    tokenExpiresAt: Number(h(IDENTITY_HEADERS.tokenExpiresAt) ?? 0),
    warned: false,
    connectedAt: now,
    lastFrameAt: now,
    resuming: false,
    // Held from the first moment: no live change may reach it ahead of its catch-up.
    ...(since !== null ? { held: true } : {}),
    ...(batchParam(request.url, since) ? { batch: true } : {}),
    ...(requestId ? { requestId } : {}),
  };
  sockets.add(server, state);
  send(server, {
    type: "welcome",
    roomId,
    lastSeq: store.lastSeq(),
    version: store.lastVersion(),
    protocol: since !== null ? PROTOCOL_VERSION : 1,
    online: sockets.onlineUsers(),
    you: userId,
  });
  if (since !== null) deps.sync(server, since);
  if (firstSocketOfUser) deps.presence.changed(userId, "joined", server, now);
  roomLog.connected(roomId, state, ticketId ? "ticket" : "bearer");
  // Only this socket's deadlines can be new: bringing the alarm forward to them is enough, and spares a
  // connect storm a scan of every socket per connect.
  deps.alarms.arm(Math.max(Math.min(...deps.heartbeats.deadlines(server, state)), now + MIN_DELAY_MS));
  return new Response(null, { status: 101, webSocket: client });
}
