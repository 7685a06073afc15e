/**
 * The operators' inspector: admin API calls rendered for a terminal. Runtime-neutral (only fetch), so
 * the CLI (scripts/inspect.ts) runs it in Node and the tests run it against the real worker.
 */
export type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

export interface InspectorOptions {
  baseUrl: string;
  token: string;
  fetch: Fetcher;
  json?: boolean;
}

export class InspectorError extends Error {}

export const USAGE = `usage: npm run inspect -- <command> [--json]
  room <roomId>          live figures of one room (sockets, seq, outbox, Redis buffer, throttle hits)
  user <email>           an account, its state and its rooms
  stats                  deployment totals, messages per hour, live sockets
  dead-letters [limit]   jobs that will not run again, newest first
environment: EDGECHAT_URL (default http://127.0.0.1:8787), and EDGECHAT_TOKEN (an admin's access token)
             or EDGECHAT_EMAIL + EDGECHAT_PASSWORD (an admin account to sign in with)`;

type Json = Record<string, unknown>;

async function get(o: InspectorOptions, path: string): Promise<Json> {
  const res = await o.fetch(new URL(path, o.baseUrl).toString(), { headers: { authorization: `Bearer ${o.token}` } });
  const body = (await res.json().catch(() => ({}))) as Json & { error?: { message?: string } };
  if (res.status === 404) {
    throw new InspectorError("not found (or this token is not an admin's: admin routes answer 404 to others)");
  }
  if (!res.ok) throw new InspectorError(`HTTP ${res.status}: ${body.error?.message ?? "request failed"}`);
  return body;
}

const age = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "-" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

function table(rows: [string, unknown][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v ?? "-"}`).join("\n");
}

export async function runInspector(args: string[], o: InspectorOptions): Promise<string> {
  const [command, arg] = args.filter((a) => a !== "--json");
  switch (command) {
    case "room": {
      if (!arg) throw new InspectorError(USAGE);
      const r = await get(o, `/api/admin/rooms/${encodeURIComponent(arg)}`);
      if (o.json) return JSON.stringify(r, null, 2);
      const room = r.room as Json;
      const live = r.live as Json | null;
      const outbox = (live?.outbox ?? {}) as Json;
      const buffer = live?.buffer as { min: number; max: number; count: number } | null | undefined;
      return table([
        ["room", `${room.id} (${room.kind}${room.name ? `, ${room.name}` : ""})`],
        ["members", room.members],
        ["live sockets", live ? live.sockets : "room did not answer"],
        ["online users", live ? (live.online as string[]).length : "-"],
        ["last seq", live?.lastSeq],
        ["postgres last seq", r.postgresLastSeq],
        ["outbox depth", outbox.depth],
        ["oldest outbox row", age(outbox.oldestAgeMs as number | null)],
        ["set-aside rows", outbox.deadLetters],
        ["redis buffer", buffer ? `${buffer.count} messages, seq ${buffer.min}..${buffer.max}` : "empty or off"],
        ["throttle hits", live?.throttleHits],
      ]);
    }
    case "user": {
      if (!arg) throw new InspectorError(USAGE);
      const r = await get(o, `/api/admin/users?email=${encodeURIComponent(arg)}`);
      if (o.json) return JSON.stringify(r, null, 2);
      const u = r.user as Json;
      const rooms = r.rooms as { roomId: string; role: string; name: string | null; kind: string }[];
      return [
        table([
          ["user", `${u.id} ${u.email} (${u.displayName})`],
          ["admin", u.admin ? "yes" : "no"],
          ["banned", u.bannedAt ? `since ${u.bannedAt}${u.banReason ? `: ${u.banReason}` : ""}` : "no"],
          ["created", u.createdAt],
          ["rooms", rooms.length],
        ]),
        ...rooms.map((m) => `  ${m.roomId}  ${m.role.padEnd(6)}  ${m.kind === "direct" ? "(direct)" : (m.name ?? "")}`),
      ].join("\n");
    }
    case "stats": {
      const r = await get(o, "/api/admin/stats");
      if (o.json) return JSON.stringify(r, null, 2);
      const live = r.live as Json;
      const perHour = r.messagesPerHour as { hour: string; messages: number }[];
      return [
        table([
          ["users", r.users],
          ["rooms", r.rooms],
          ["banned", r.banned],
          ["dead letters", r.deadLetters],
          [
            "live sockets",
            `${live.sockets} in ${live.roomsAsked} active rooms${live.truncated ? " (busiest only)" : ""}`,
          ],
          ["rooms not answering", live.unreachable],
        ]),
        "messages per hour (UTC):",
        ...perHour.map((h) => `  ${h.hour}  ${h.messages}`),
      ].join("\n");
    }
    case "dead-letters": {
      const limit = arg && /^\d+$/.test(arg) ? arg : "20";
      const r = await get(o, `/api/admin/dead-letters?limit=${limit}`);
      if (o.json) return JSON.stringify(r, null, 2);
      const rows = r.deadLetters as {
        createdAt: string;
        queue: string;
        attempts: number;
        reason: string;
        messageId: string;
      }[];
      return [
        `${rows.length} shown, ${r.retrying} still retrying`,
        ...rows.map((d) => `  ${d.createdAt}  ${d.queue}  attempts=${d.attempts}  ${d.messageId}\n    ${d.reason}`),
      ].join("\n");
    }
    default:
      throw new InspectorError(USAGE);
  }
}
