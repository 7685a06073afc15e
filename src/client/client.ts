/**
 * EdgechatClient: accounts and tokens (refreshed before they expire, and once more on a 401), typed
 * calls for every REST route, errors as EdgechatError with the server's code. Rooms: `client.room(id)`.
 */
import type { z } from "zod";
import type { loginBody, registerBody } from "../protocol/auth";
import type { retentionReply } from "../protocol/data-rights";
import type { SendMessage } from "../protocol/frames";
import type { keyIdentityReply, systemMessageBody } from "../protocol/integrations";
import type { markReadBody, settingsPatch } from "../protocol/notifications";
import type { announcedReply, attachmentReply } from "../protocol/responses/attachments";
import type { meReply, signedIn, tokens, userReply } from "../protocol/responses/auth";
import type {
  editedReply,
  historyPage,
  pinsReply,
  resentReply,
  searchReply,
  sentReply,
  threadReply,
} from "../protocol/responses/messages";
import type { blocksReply, purgedReply, sanctionReply, sanctionsReply } from "../protocol/responses/moderation";
import type {
  markedReadReply,
  notificationsReply,
  settingsReply,
  subscribedReply,
  vapidKeyReply,
} from "../protocol/responses/notifications";
import type {
  invitedReply,
  membersReply,
  roomDetailReply,
  roomListReply,
  roomReply,
  usersReply,
  wsTicketReply,
} from "../protocol/responses/rooms";
import type { myReportReply, reportsReply, reviewedReportReply } from "../protocol/responses/safety";
import type { createRoomBody, updateRoomBody } from "../protocol/rooms";
import type { REPORT_STATES, reportBody } from "../protocol/safety";
import { EdgechatError } from "./errors";
import { InboxConnection, type InboxOptions } from "./inbox";
import { RoomConnection, type RoomConnectionOptions } from "./room-connection";
import { defaultSocketFactory, type SocketFactory } from "./transport";
import type { Session, User } from "./types";

export interface ClientOptions {
  /** Where the worker is, e.g. https://chat.example.com (no trailing slash needed). */
  baseUrl: string;
  fetch?: typeof fetch;
  webSocket?: SocketFactory;
  /** A session saved from an earlier run (see onSession). */
  session?: Session;
  /** Called whenever tokens change (login, refresh, logout → null): persist them if you like. */
  onSession?: (session: Session | null) => void;
  /** Refresh this long before the access token expires (default 60 s). */
  refreshMarginMs?: number;
  /**
   * Servers and bots: an API key (`ek_…`, made by an admin) instead of a signed-in session. Every request
   * and socket ticket carries it; nothing is refreshed (a room socket a key opened lasts a day at most, and
   * the SDK reconnects it while the key is still valid). Never pass one to code running in a browser.
   */
  apiKey?: string;
}

/** What a route answers, as its declared response schema says. */
type Reply<S extends z.ZodType> = z.infer<S>;
type TokenAnswer = Reply<typeof tokens>;

type Query = Record<string, string | number | boolean | undefined>;
type ReportsQuery = { state?: (typeof REPORT_STATES)[number]; cursor?: string; limit?: number };

export class EdgechatClient {
  readonly baseUrl: string;
  readonly socketFactory: SocketFactory;
  private readonly fetcher: typeof fetch;
  private readonly onSession?: (session: Session | null) => void;
  private readonly refreshMarginMs: number;
  private current: Session | null;
  private refreshing: Promise<Session> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly apiKey: string | null;
  /** Key mode: whom the key acts as, asked once (GET /api/integrations/me). */
  private keyIdentity: Promise<Reply<typeof keyIdentityReply>> | null = null;
  private keyPrincipalId: string | null = null;

  constructor(opts: ClientOptions) {
    if (opts.apiKey !== undefined && opts.session !== undefined)
      throw new TypeError("EdgechatClient takes an apiKey or a session, not both");
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.fetcher = opts.fetch ?? ((input, init) => fetch(input, init));
    this.socketFactory = opts.webSocket ?? defaultSocketFactory;
    this.onSession = opts.onSession;
    this.refreshMarginMs = opts.refreshMarginMs ?? 60_000;
    this.current = opts.session ?? null;
    this.apiKey = opts.apiKey ?? null;
    if (this.current) this.scheduleRefresh();
  }

  /** True when this client authenticates with an API key (a server or a bot), not a user's session. */
  get usesApiKey(): boolean {
    return this.apiKey !== null;
  }

  get session(): Session | null {
    return this.current;
  }

  /** The signed-in user's id (the access token's subject), or null when signed out. Needs no request. */
  get userId(): string | null {
    if (this.apiKey) return this.keyPrincipalId;
    const payload = this.current?.accessToken.split(".")[1];
    if (!payload) return null;
    try {
      const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: unknown };
      return typeof json.sub === "string" ? json.sub : null;
    } catch {
      return null;
    }
  }

  // --- accounts -----------------------------------------------------------------------------------

  async register(input: z.input<typeof registerBody>): Promise<User> {
    const r = await this.request<Reply<typeof signedIn>>("POST", "/api/auth/register", input, { auth: false });
    this.setSession(r);
    return r.user;
  }

  async login(input: z.input<typeof loginBody>): Promise<User> {
    const r = await this.request<Reply<typeof signedIn>>("POST", "/api/auth/login", input, { auth: false });
    this.setSession(r);
    return r.user;
  }

  /** Ends the session everywhere it is used (the server also closes this user's sockets). */
  async logout(): Promise<void> {
    const refreshToken = this.current?.refreshToken;
    this.setSession(null);
    if (refreshToken) await this.request("POST", "/api/auth/logout", { refreshToken }, { auth: false });
  }

  /**
   * Key mode: who the key acts as (its bot or service identity), its scopes and rooms; asked once. After
   * it resolves, `userId` is the principal's id.
   */
  identity(): Promise<Reply<typeof keyIdentityReply>> {
    if (!this.apiKey) return Promise.reject(new EdgechatError(400, "bad_request", "Not an API-key client"));
    this.keyIdentity ??= this.request<Reply<typeof keyIdentityReply>>("GET", "/api/integrations/me").then(
      (r) => {
        this.keyPrincipalId = r.principal.id;
        return r;
      },
      (err: unknown) => {
        this.keyIdentity = null;
        throw err;
      },
    );
    return this.keyIdentity;
  }

  /** Who is acting: the token's subject, or (key mode) the key's principal, asked for on first use. */
  async whoAmI(): Promise<string> {
    if (this.apiKey) return (await this.identity()).principal.id;
    const me = this.userId;
    if (!me) throw new EdgechatError(401, "unauthorized", "Not signed in");
    return me;
  }

  /**
   * A fresh access token now; concurrent callers share one refresh. Key mode: nothing to refresh; this
   * asks the server whether the key still works (a 401 means revoked or expired).
   */
  refresh(): Promise<Session> {
    if (this.apiKey) {
      const key = this.apiKey;
      return this.request("GET", "/api/integrations/me").then(() => ({
        accessToken: key,
        refreshToken: "",
        expiresAt: Number.MAX_SAFE_INTEGER,
      }));
    }
    this.refreshing ??= (async () => {
      const refreshToken = this.current?.refreshToken;
      if (!refreshToken) throw new EdgechatError(401, "unauthorized", "Not signed in");
      try {
        const r = await this.request<TokenAnswer>("POST", "/api/auth/refresh", { refreshToken }, { auth: false });
        return this.setSession(r) as Session;
      } catch (err) {
        if (err instanceof EdgechatError && err.status === 401) this.setSession(null);
        throw err;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** A token valid for at least the refresh margin, refreshing first if needed. */
  async accessToken(): Promise<string> {
    if (this.apiKey) return this.apiKey;
    if (!this.current) throw new EdgechatError(401, "unauthorized", "Not signed in");
    if (this.current.expiresAt - Date.now() < this.refreshMarginMs) return (await this.refresh()).accessToken;
    return this.current.accessToken;
  }

  /** Stops the refresh timer (call when throwing the client away). */
  close(): void {
    clearTimeout(this.refreshTimer);
  }

  private setSession(r: TokenAnswer | null): Session | null {
    clearTimeout(this.refreshTimer);
    this.current = r
      ? { accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: Date.now() + r.expiresIn * 1000 }
      : null;
    if (this.current) this.scheduleRefresh();
    this.onSession?.(this.current);
    return this.current;
  }

  private scheduleRefresh(): void {
    if (!this.current) return;
    const wait = Math.max(0, this.current.expiresAt - Date.now() - this.refreshMarginMs);
    this.refreshTimer = setTimeout(() => {
      this.refresh().catch(() => undefined);
    }, wait);
    // Never keep a Node process alive just to refresh a token.
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: { auth?: boolean; query?: Query; raw?: NonNullable<RequestInit["body"]>; contentType?: string } = {},
  ): Promise<T> {
    const send = async (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      if (opts.raw !== undefined) headers["content-type"] = opts.contentType ?? "application/octet-stream";
      try {
        return await this.fetcher(this.url(path, opts.query), {
          method,
          headers,
          body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
        });
      } catch (err) {
        throw new EdgechatError(0, "network", `Could not reach edgechat: ${(err as Error).message}`);
      }
    };
    const auth = opts.auth !== false;
    let res = await send(auth ? await this.accessToken() : null);
    if (res.status === 401 && auth && this.current) {
      // Revoked or expired early (clock skew): one refresh, one retry.
      res = await send((await this.refresh()).accessToken);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const json = text
      ? (JSON.parse(text) as T & { error?: { code: never; message: string; details?: unknown } })
      : null;
    if (!res.ok) {
      const e = (
        json as { error?: { code: EdgechatError["code"]; message: string; details?: unknown; requestId?: string } }
      )?.error;
      throw new EdgechatError(
        res.status,
        e?.code ?? "internal",
        e?.message ?? res.statusText,
        e?.details,
        e?.requestId,
      );
    }
    return json as T;
  }

  url(path: string, query?: Query): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  // --- REST, grouped as the API is ---------------------------------------------------------------

  readonly me = {
    get: () => this.request<Reply<typeof meReply>>("GET", "/api/auth/me"),
    update: (displayName: string) => this.request<Reply<typeof userReply>>("PATCH", "/api/auth/me", { displayName }),
  };

  readonly rooms = {
    create: (input: z.input<typeof createRoomBody>) =>
      this.request<Reply<typeof roomReply>>("POST", "/api/rooms", input).then((r) => r.room),
    direct: (userId: string) =>
      this.request<Reply<typeof roomReply>>("POST", "/api/rooms/direct", { userId }).then((r) => r.room),
    list: (query: { cursor?: string; limit?: number } = {}) =>
      this.request<Reply<typeof roomListReply>>("GET", "/api/rooms", undefined, { query }),
    get: (id: string) => this.request<Reply<typeof roomDetailReply>>("GET", `/api/rooms/${id}`).then((r) => r.room),
    update: (id: string, input: z.input<typeof updateRoomBody>) =>
      this.request<Reply<typeof roomReply>>("PATCH", `/api/rooms/${id}`, input).then((r) => r.room),
    join: (id: string) => this.request<Reply<typeof roomReply>>("POST", `/api/rooms/${id}/join`).then((r) => r.room),
    leave: (id: string) => this.request<void>("POST", `/api/rooms/${id}/leave`),
    members: (id: string) =>
      this.request<Reply<typeof membersReply>>("GET", `/api/rooms/${id}/members`).then((r) => r.members),
    invite: (id: string, userId: string, role?: "admin" | "member") =>
      this.request<Reply<typeof invitedReply>>("POST", `/api/rooms/${id}/members`, {
        userId,
        ...(role ? { role } : {}),
      }),
    removeMember: (id: string, userId: string) => this.request<void>("DELETE", `/api/rooms/${id}/members/${userId}`),
    pins: (id: string) => this.request<Reply<typeof pinsReply>>("GET", `/api/rooms/${id}/pins`),
    /** How long the room keeps messages; owners may shorten it (never past an admin's or the deployment's). */
    retention: (id: string) => this.request<Reply<typeof retentionReply>>("GET", `/api/rooms/${id}/retention`),
    setRetention: (id: string, days: number | null) =>
      days === null
        ? this.request<Reply<typeof retentionReply>>("DELETE", `/api/rooms/${id}/retention`)
        : this.request<Reply<typeof retentionReply>>("PUT", `/api/rooms/${id}/retention`, { days }),
  };

  readonly messages = {
    history: (roomId: string, query: { before?: number; after?: number; limit?: number } = {}) =>
      this.request<Reply<typeof historyPage>>("GET", `/api/rooms/${roomId}/messages`, undefined, { query }),
    /** A resend of an accepted clientMsgId answers `duplicate: true` with the first message. */
    send: (roomId: string, input: SendMessage) =>
      this.request<Reply<typeof sentReply> | Reply<typeof resentReply>>("POST", `/api/rooms/${roomId}/messages`, input),
    edit: (roomId: string, seq: number, body: string) =>
      this.request<Reply<typeof editedReply>>("PATCH", `/api/messages/${roomId}/${seq}`, { body }),
    delete: (roomId: string, seq: number) => this.request<void>("DELETE", `/api/messages/${roomId}/${seq}`),
    read: (roomId: string, seq: number) => this.request<void>("POST", `/api/rooms/${roomId}/read`, { seq }),
    react: (roomId: string, seq: number, emoji: string) =>
      this.request<void>("POST", `/api/messages/${roomId}/${seq}/reactions`, { emoji }),
    unreact: (roomId: string, seq: number, emoji: string) =>
      this.request<void>("DELETE", `/api/messages/${roomId}/${seq}/reactions/${encodeURIComponent(emoji)}`),
    pin: (roomId: string, seq: number) => this.request<void>("POST", `/api/messages/${roomId}/${seq}/pin`),
    unpin: (roomId: string, seq: number) => this.request<void>("DELETE", `/api/messages/${roomId}/${seq}/pin`),
    thread: (roomId: string, seq: number, query: { after?: number; limit?: number } = {}) =>
      this.request<Reply<typeof threadReply>>("GET", `/api/messages/${roomId}/${seq}/thread`, undefined, { query }),
    search: (query: { q: string; roomId?: string; cursor?: string; limit?: number }) =>
      this.request<Reply<typeof searchReply>>("GET", "/api/search", undefined, { query }),
  };

  /** Room moderation by owners and admins (bans, mutes, deleting all of a member's messages). */
  readonly moderation = {
    /** For `durationSeconds`, or until lifted when it is absent. */
    ban: (roomId: string, userId: string, input: { durationSeconds?: number; reason?: string } = {}) =>
      this.request<Reply<typeof sanctionReply>>("PUT", `/api/rooms/${roomId}/bans/${userId}`, input).then(
        (r) => r.sanction,
      ),
    unban: (roomId: string, userId: string) => this.request<void>("DELETE", `/api/rooms/${roomId}/bans/${userId}`),
    mute: (roomId: string, userId: string, input: { durationSeconds?: number; reason?: string } = {}) =>
      this.request<Reply<typeof sanctionReply>>("PUT", `/api/rooms/${roomId}/mutes/${userId}`, input).then(
        (r) => r.sanction,
      ),
    unmute: (roomId: string, userId: string) => this.request<void>("DELETE", `/api/rooms/${roomId}/mutes/${userId}`),
    /** Bans and mutes in force. */
    sanctions: (roomId: string) =>
      this.request<Reply<typeof sanctionsReply>>("GET", `/api/rooms/${roomId}/sanctions`).then((r) => r.sanctions),
    /** Deletes every message of a member; answers how many. */
    purge: (roomId: string, userId: string) =>
      this.request<Reply<typeof purgedReply>>("DELETE", `/api/rooms/${roomId}/members/${userId}/messages`).then(
        (r) => r.deleted,
      ),
  };

  /** People I block: their messages are hidden from me everywhere. */
  readonly blocks = {
    list: () => this.request<Reply<typeof blocksReply>>("GET", "/api/me/blocks").then((r) => r.blocks),
    block: (userId: string) => this.request<void>("PUT", `/api/me/blocks/${userId}`),
    unblock: (userId: string) => this.request<void>("DELETE", `/api/me/blocks/${userId}`),
  };

  /**
   * Reports: any member reports a message (`seq`) or a person (`userId`) in a room; the room's owners and
   * admins review the room's, deployment admins every room's (`all`, `updateAny`).
   */
  readonly reports = {
    create: (roomId: string, input: z.input<typeof reportBody>) =>
      this.request<Reply<typeof myReportReply>>("POST", `/api/rooms/${roomId}/reports`, input).then((r) => r.report),
    list: (roomId: string, query: ReportsQuery = {}) =>
      this.request<Reply<typeof reportsReply>>("GET", `/api/rooms/${roomId}/reports`, undefined, { query }),
    update: (roomId: string, reportId: string, state: (typeof REPORT_STATES)[number]) =>
      this.request<Reply<typeof reviewedReportReply>>("PATCH", `/api/rooms/${roomId}/reports/${reportId}`, {
        state,
      }).then((r) => r.report),
    all: (query: ReportsQuery & { roomId?: string } = {}) =>
      this.request<Reply<typeof reportsReply>>("GET", "/api/admin/reports", undefined, { query }),
    updateAny: (reportId: string, state: (typeof REPORT_STATES)[number]) =>
      this.request<Reply<typeof reviewedReportReply>>("PATCH", `/api/admin/reports/${reportId}`, { state }).then(
        (r) => r.report,
      ),
  };

  readonly users = {
    search: (q: string, limit?: number) =>
      this.request<Reply<typeof usersReply>>("GET", "/api/users", undefined, { query: { q, limit } }).then(
        (r) => r.users,
      ),
  };

  readonly notifications = {
    list: (query: { cursor?: string; limit?: number; unread?: boolean } = {}) =>
      this.request<Reply<typeof notificationsReply>>("GET", "/api/notifications", undefined, { query }),
    markRead: (input: z.input<typeof markReadBody>) =>
      this.request<Reply<typeof markedReadReply>>("POST", "/api/notifications/read", input),
    settings: () => this.request<Reply<typeof settingsReply>>("GET", "/api/me/notification-settings"),
    updateSettings: (input: z.input<typeof settingsPatch>) =>
      this.request<Reply<typeof settingsReply>>("PATCH", "/api/me/notification-settings", input),
  };

  readonly push = {
    vapidPublicKey: () =>
      this.request<Reply<typeof vapidKeyReply>>("GET", "/api/push/vapid-public-key", undefined, { auth: false }),
    /**
     * Pass `subscription.toJSON()` from `pushManager.subscribe(...)`. A 409 `conflict` means the endpoint is
     * registered with other keys (another account's subscription): `unsubscribe()` it and subscribe again.
     */
    subscribe: (subscription: {
      endpoint: string;
      keys: { p256dh: string; auth: string };
      expirationTime?: number | null;
    }) => this.request<Reply<typeof subscribedReply>>("POST", "/api/push/subscriptions", subscription),
    unsubscribe: (id: string) => this.request<void>("DELETE", `/api/push/subscriptions/${id}`),
  };

  readonly attachments = {
    /** Announces and uploads a file; send its `id` in a message afterwards. */
    upload: async (
      roomId: string,
      file: { filename: string; contentType: string; bytes: NonNullable<RequestInit["body"]>; size: number },
    ) => {
      const { attachment } = await this.request<Reply<typeof announcedReply>>(
        "POST",
        `/api/rooms/${roomId}/attachments`,
        {
          filename: file.filename,
          contentType: file.contentType,
          size: file.size,
        },
      );
      const done = await this.request<Reply<typeof attachmentReply>>("PUT", attachment.uploadUrl, undefined, {
        raw: file.bytes,
        contentType: file.contentType,
      });
      return done.attachment;
    },
    downloadUrl: (id: string) => this.url(`/api/attachments/${id}`),
  };

  /** Servers (keys with messages:system): post a `kind: "system"` message; idempotent on clientMsgId. */
  readonly integrations = {
    identity: () => this.identity(),
    postSystemMessage: (roomId: string, input: z.input<typeof systemMessageBody>) =>
      this.request<Reply<typeof sentReply>>("POST", `/api/rooms/${roomId}/system-messages`, input).then(
        (r) => r.message,
      ),
  };

  /** A single-use ticket for the room's WebSocket (what RoomConnection uses). */
  wsTicket(roomId: string): Promise<Reply<typeof wsTicketReply>> {
    return this.request("POST", `/api/rooms/${roomId}/ws-ticket`);
  }

  /** A single-use ticket for the inbox WebSocket (what InboxConnection uses). */
  inboxTicket(): Promise<Reply<typeof wsTicketReply>> {
    return this.request("POST", "/api/me/ws-ticket");
  }

  /**
   * The live inbox of every room of mine, one socket per device: badges, previews, list changes,
   * notifications, direct-room presence. Call `.connect()` on it.
   */
  inbox(opts: InboxOptions = {}): InboxConnection {
    return new InboxConnection(this, opts);
  }

  /** A live connection to one room; call `.connect()` on it. */
  room(roomId: string, opts: RoomConnectionOptions = {}): RoomConnection {
    return new RoomConnection(this, roomId, opts);
  }
}
