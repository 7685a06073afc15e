/**
 * The inbox (issue 25): N users, each in R rooms, every inbox open; messages spread over the rooms. Reports
 * badge-update latency (a send's ack to the update on every other member's inbox, p50/p99), inbox updates
 * and room→inbox calls per message, the connect time of all inboxes at once (snapshot, then registered
 * with every room), and lost updates: every inbox's unread, last seq and read mark per room checked against
 * Postgres at the end. A second phase sends into one hot room every user is in, to check the budget: a room
 * pushes at most once per window per connected inbox, whatever its message rate.
 */
import pg from "pg";
import WebSocket from "ws";
import { signAccessToken } from "../../src/lib/jwt.ts";
import type { InboxFrame, InboxRoom, InboxStats } from "../../src/protocol/inbox.ts";
import { type LatencySummary, newHistogram, summarize } from "../lib/histogram.ts";
import { cpuMeter } from "../lib/proc.ts";
import type { EdgechatSystem } from "../servers/systems.ts";

export interface InboxPlan {
  users: number;
  roomsPerUser: number;
  membersPerRoom: number;
  /** Messages per second over all the (ordinary) rooms, and for how long. */
  rate: number;
  seconds: number;
  /** Messages per second into the hot room (every user is a member), and for how long. */
  hotRate: number;
  hotSeconds: number;
  /** The window rooms coalesce in (INBOX_COALESCE_MS of the stack under test). */
  coalesceMs: number;
}

export interface InboxPhase {
  rooms: number;
  membersPerRoom: number;
  rate: number;
  sent: number;
  acked: number;
  badge: LatencySummary;
  /** (message, other member) pairs whose inbox never showed that message. */
  badgeMissing: number;
  /** `room` deltas received by all inboxes, per message sent. */
  inboxUpdatesPerMessage: number;
  /** Room→inbox calls (pushes) made, per message sent. */
  roomCallsPerMessage: number;
  /**
   * Room→inbox calls per room per second over the phase (first send to last update shown, plus the last
   * update's window), against the budget: one call per watching inbox per window (watchers × 1000 /
   * INBOX_COALESCE_MS).
   */
  roomCallsPerRoomSecond: number;
  budgetPerRoomSecond: number;
  /** Shortest time between two updates of one room on one inbox (the window, less network jitter). */
  minUpdateGapMs: number;
  /** CPU of the worker runtime (worker, rooms, inboxes) per message, ms. */
  runtimeCpuMsPerMessage: number;
}

export interface InboxResult {
  users: number;
  roomsPerUser: number;
  connect: {
    /** From opening every socket at once to each one's 101, and to each one's snapshot. */
    upgrade: LatencySummary;
    snapshot: LatencySummary;
    allSnapshotsMs: number;
    allRegisteredMs: number;
    failed: number;
  };
  /** Room→inbox registrations (watch calls) made by the connect storm, per inbox. */
  watchCallsPerInbox: number;
  spread: InboxPhase;
  hot: InboxPhase;
  /** Inbox entries (user × room) that differ from Postgres at the end; must be 0. */
  lostUpdates: number;
  checkedEntries: number;
  mismatches: string[];
}

interface Seeded {
  userIds: string[];
  tokens: string[];
  /** Room id → member indexes (into userIds); the first member sends. */
  rooms: Map<string, number[]>;
  hotRoom: string;
}

/** Users, layered rooms (every user in exactly `roomsPerUser` of them) and one hot room with everyone. */
async function seed(sys: EdgechatSystem, plan: InboxPlan): Promise<Seeded> {
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    const run = crypto.randomUUID().slice(0, 8);
    const userIds = Array.from({ length: plan.users }, () => crypto.randomUUID());
    const rooms = new Map<string, number[]>();
    for (let layer = 0; layer < plan.roomsPerUser; layer++) {
      const order = shuffled(userIds.map((_, i) => i));
      for (let i = 0; i < order.length; i += plan.membersPerRoom) {
        rooms.set(crypto.randomUUID(), order.slice(i, i + plan.membersPerRoom));
      }
    }
    const hotRoom = crypto.randomUUID();
    rooms.set(
      hotRoom,
      userIds.map((_, i) => i),
    );
    await client.query(
      `insert into users (id, email, display_name, password_hash)
       select id, 'inbox-' || $2 || '-' || n || '@bench.test', 'user ' || n, 'x'
       from unnest($1::uuid[]) with ordinality as t(id, n)`,
      [userIds, run],
    );
    const roomIds = [...rooms.keys()];
    await client.query(
      `insert into rooms (id, kind, name, created_by)
       select id, 'group', 'inbox ' || $2 || ' ' || n, $3 from unnest($1::uuid[]) with ordinality as t(id, n)`,
      [roomIds, run, userIds[0]],
    );
    const memberRoom: string[] = [];
    const memberUser: string[] = [];
    const memberRole: string[] = [];
    for (const [roomId, members] of rooms) {
      members.forEach((m, i) => {
        memberRoom.push(roomId);
        memberUser.push(userIds[m] as string);
        memberRole.push(i === 0 ? "owner" : "member");
      });
    }
    await client.query(
      "insert into room_members (room_id, user_id, role) select * from unnest($1::uuid[], $2::uuid[], $3::text[])",
      [memberRoom, memberUser, memberRole],
    );
    const sessionIds = userIds.map(() => crypto.randomUUID());
    await client.query("insert into sessions (id, user_id) select * from unnest($1::uuid[], $2::uuid[])", [
      sessionIds,
      userIds,
    ]);
    const env = {
      ...sys.secrets,
      JWT_ISSUER: "edgechat",
      JWT_AUDIENCE: "edgechat-api",
      ACCESS_TOKEN_TTL_SECONDS: "3600",
    };
    const tokens = await Promise.all(
      userIds.map((id, i) => signAccessToken(env as never, { userId: id, sessionId: sessionIds[i] as string })),
    );
    return { userIds, tokens, rooms, hotRoom };
  } finally {
    await client.end();
  }
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** One device's inbox: its kept entries and, per room, when each last seq was first shown. */
class Device {
  readonly ws: WebSocket;
  readonly rooms = new Map<string, InboxRoom>();
  /** Room → [(time ms, lastSeq)], lastSeq rising. */
  readonly shown = new Map<string, [number, number][]>();
  roomDeltas = 0;
  snapshotAt: number | null = null;
  upgradedAt: number | null = null;
  stats: InboxStats | null = null;
  private statsWaiter: ((s: InboxStats) => void) | null = null;
  readonly opened: Promise<void>;

  constructor(url: string, token: string) {
    this.ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    this.ws.once("open", () => {
      this.upgradedAt = performance.now();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("error", reject);
      this.ws.on("message", (data) => {
        const frame = JSON.parse(String(data)) as InboxFrame;
        const at = performance.now();
        if (frame.type === "snapshot") {
          for (const r of frame.rooms) this.put(r, at);
          this.snapshotAt = at;
          resolve();
        } else if (frame.type === "room") {
          this.roomDeltas++;
          this.put(frame.room, at);
        } else if (frame.type === "room.removed") {
          this.rooms.delete(frame.roomId);
        } else if (frame.type === "stats") {
          this.stats = frame;
          this.statsWaiter?.(frame);
        }
      });
    });
  }

  private put(room: InboxRoom, at: number): void {
    this.rooms.set(room.id, room);
    const list = this.shown.get(room.id) ?? [];
    if (list.length === 0 || (list.at(-1) as [number, number])[1] < room.lastSeq) list.push([at, room.lastSeq]);
    this.shown.set(room.id, list);
  }

  /** When this device first showed `seq` (or later) in `roomId`, or null. */
  shownAt(roomId: string, seq: number): number | null {
    const list = this.shown.get(roomId) ?? [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as [number, number])[1] >= seq) hi = mid;
      else lo = mid + 1;
    }
    return lo < list.length ? (list[lo] as [number, number])[0] : null;
  }

  askStats(): Promise<InboxStats> {
    return new Promise((resolve) => {
      this.statsWaiter = resolve;
      this.ws.send(JSON.stringify({ type: "stats" }));
    });
  }
}

/** A room's sender socket: sends with a clientMsgId, resolves with the seq at the ack. */
class Sender {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  private readonly waiting = new Map<string, (seq: number) => void>();

  constructor(url: string, token: string) {
    this.ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("error", reject);
      this.ws.on("message", (data) => {
        const frame = JSON.parse(String(data)) as { type: string; clientMsgId?: string; seq?: number };
        if (frame.type === "welcome") resolve();
        if (frame.type === "ack" && frame.clientMsgId) this.waiting.get(frame.clientMsgId)?.(frame.seq as number);
      });
    });
  }

  /** Rejects after 30 s: under `wrangler dev` a reload (a source file edited meanwhile) drops every socket. */
  send(clientMsgId: string, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ack for ${clientMsgId} in 30 s (was the stack reloaded?)`)),
        30_000,
      );
      this.waiting.set(clientMsgId, (seq) => {
        clearTimeout(timer);
        resolve(seq);
      });
      this.ws.send(JSON.stringify({ type: "send", clientMsgId, body }));
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[bench] inbox ${line}`);

async function totalPushes(devices: Device[]): Promise<number> {
  const stats = await Promise.all(devices.map((d) => d.askStats()));
  return stats.reduce((t, s) => t + s.pushes, 0);
}

/** Sends `rate`/s for `seconds` into `roomIds` (round robin), then measures what every other member saw. */
async function phase(
  sys: EdgechatSystem,
  seeded: Seeded,
  devices: Device[],
  senders: Map<string, Sender>,
  roomIds: string[],
  rate: number,
  seconds: number,
  coalesceMs: number,
  prefix: string,
): Promise<InboxPhase> {
  const pushesBefore = await totalPushes(devices);
  const deltasBefore = devices.reduce((t, d) => t + d.roomDeltas, 0);
  const server = cpuMeter(() => sys.runtimePids());
  server.start();
  const sent: { roomId: string; seq: number; ackAt: number }[] = [];
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const roomId = roomIds[i % roomIds.length] as string;
    const sender = senders.get(roomId) as Sender;
    pending.push(
      sender.send(`${prefix}-${i}`, `message ${i} of the inbox bench`).then((seq) => {
        sent.push({ roomId, seq, ackAt: performance.now() });
      }),
    );
  }
  await Promise.all(pending);
  // Every update is due within one window after the last ack; leave two and a margin.
  await sleep(2 * coalesceMs + 1500);
  const serverCpuMs = server.stop();
  const pushes = (await totalPushes(devices)) - pushesBefore;
  // The span the phase's updates took, and the shortest gap between two updates of one room on one inbox.
  let lastShown = start;
  let minGap = Number.POSITIVE_INFINITY;
  for (const d of devices) {
    for (const roomId of roomIds) {
      const times = (d.shown.get(roomId) ?? []).map(([t]) => t).filter((t) => t >= start);
      for (let k = 1; k < times.length; k++) minGap = Math.min(minGap, (times[k] as number) - (times[k - 1] as number));
      if (times.length) lastShown = Math.max(lastShown, times.at(-1) as number);
    }
  }
  // A flush at the start of the phase and one at its end each take a window: count the last one whole.
  const spanSeconds = Math.max(seconds, (lastShown - start + coalesceMs) / 1000);
  const deltas = devices.reduce((t, d) => t + d.roomDeltas, 0) - deltasBefore;
  const badge = newHistogram();
  let missing = 0;
  for (const m of sent) {
    const members = seeded.rooms.get(m.roomId) as number[];
    for (const i of members.slice(1)) {
      const at = (devices[i] as Device).shownAt(m.roomId, m.seq);
      if (at === null) missing++;
      else badge.recordValue(Math.max(1, Math.round((at - m.ackAt) * 1000)));
    }
  }
  const watchers = (seeded.rooms.get(roomIds[0] as string) as number[]).length;
  return {
    rooms: roomIds.length,
    membersPerRoom: watchers,
    rate,
    sent: total,
    acked: sent.length,
    badge: summarize(badge),
    badgeMissing: missing,
    inboxUpdatesPerMessage: round(deltas / Math.max(1, total)),
    roomCallsPerMessage: round(pushes / Math.max(1, total)),
    roomCallsPerRoomSecond: round(pushes / roomIds.length / spanSeconds),
    budgetPerRoomSecond: Math.round((watchers * 1000) / coalesceMs),
    minUpdateGapMs: Number.isFinite(minGap) ? Math.round(minGap) : -1,
    runtimeCpuMsPerMessage: round(serverCpuMs / Math.max(1, total)),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Every inbox entry against Postgres (after the rooms' write-through has drained). */
async function checkAgainstPostgres(sys: EdgechatSystem, seeded: Seeded, devices: Device[]) {
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      room_id: string;
      user_id: string;
      last_seq: string;
      mark: string;
      unread: number;
    }>(
      `select rm.room_id, rm.user_id, r.last_seq, rm.last_read_seq as mark,
         (r.last_seq - rm.last_read_seq - (select count(*) from messages m
            where m.room_id = rm.room_id and m.sender_id = rm.user_id and m.seq > rm.last_read_seq))::int as unread
       from room_members rm join rooms r on r.id = rm.room_id where rm.user_id = any($1::uuid[])`,
      [seeded.userIds],
    );
    const index = new Map(seeded.userIds.map((id, i) => [id, i]));
    const mismatches: string[] = [];
    for (const row of rows) {
      const device = devices[index.get(row.user_id) as number] as Device;
      const held = device.rooms.get(row.room_id);
      const want = { lastSeq: Number(row.last_seq), readMark: Number(row.mark), unread: row.unread };
      if (!held || held.lastSeq !== want.lastSeq || held.readMark !== want.readMark || held.unread !== want.unread) {
        mismatches.push(
          `${row.user_id.slice(0, 8)}@${row.room_id.slice(0, 8)}: inbox ${JSON.stringify(held && { lastSeq: held.lastSeq, readMark: held.readMark, unread: held.unread })} postgres ${JSON.stringify(want)}`,
        );
      }
    }
    return { checked: rows.length, mismatches };
  } finally {
    await client.end();
  }
}

/** Waits until Postgres has every message the phases acked (the rooms' outbox drained). */
async function drained(sys: EdgechatSystem, roomIds: string[], expected: number): Promise<void> {
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    for (let i = 0; i < 120; i++) {
      const { rows } = await client.query<{ n: string }>(
        "select coalesce(sum(last_seq), 0) as n from rooms where id = any($1::uuid[])",
        [roomIds],
      );
      if (Number(rows[0]?.n) >= expected) return;
      await sleep(500);
    }
  } finally {
    await client.end();
  }
}

/** Waits until Postgres has the read marks (written through by the rooms). */
async function readsDrained(sys: EdgechatSystem, reads: { userId: string; roomId: string; seq: number }[]) {
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    for (let i = 0; i < 120; i++) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from room_members rm
           join unnest($1::uuid[], $2::uuid[], $3::bigint[]) as t(user_id, room_id, seq)
             on rm.user_id = t.user_id and rm.room_id = t.room_id
          where rm.last_read_seq >= t.seq`,
        [reads.map((r) => r.userId), reads.map((r) => r.roomId), reads.map((r) => r.seq)],
      );
      if ((rows[0]?.n ?? 0) >= reads.length) return;
      await sleep(500);
    }
  } finally {
    await client.end();
  }
}

export async function inboxScenario(sys: EdgechatSystem, plan: InboxPlan, port = sys.directPort): Promise<InboxResult> {
  const seeded = await seed(sys, plan);
  const base = `ws://127.0.0.1:${port}`;
  // The connect storm: every inbox at once.
  const t0 = performance.now();
  const devices = seeded.tokens.map((token) => new Device(`${base}/api/me/ws`, token));
  const opened = await Promise.allSettled(devices.map((d) => d.opened));
  const failed = opened.filter((o) => o.status === "rejected").length;
  const snapshots = newHistogram();
  const upgrades = newHistogram();
  for (const d of devices) {
    if (d.snapshotAt !== null) snapshots.recordValue(Math.round((d.snapshotAt - t0) * 1000));
    if (d.upgradedAt !== null) upgrades.recordValue(Math.round((d.upgradedAt - t0) * 1000));
  }
  const allSnapshotsMs = Math.round(Math.max(...devices.map((d) => d.snapshotAt ?? t0)) - t0);
  let allRegisteredMs = -1;
  for (let i = 0; i < 600; i++) {
    const stats = await Promise.all(devices.map((d) => d.askStats()));
    if (stats.every((s) => s.session === "on" && s.watching === s.rooms)) {
      allRegisteredMs = Math.round(performance.now() - t0);
      break;
    }
    await sleep(100);
  }
  // One sender socket per room (its first member).
  const senders = new Map<string, Sender>();
  for (const [roomId, members] of seeded.rooms) {
    senders.set(roomId, new Sender(`${base}/api/rooms/${roomId}/ws`, seeded.tokens[members[0] as number] as string));
  }
  await Promise.all([...senders.values()].map((s) => s.opened));
  const watchCalls = (await Promise.all(devices.map((d) => d.askStats()))).reduce((t, s) => t + s.rooms, 0);
  const ordinary = [...seeded.rooms.keys()].filter((id) => id !== seeded.hotRoom);
  log(`connect storm: all snapshots in ${allSnapshotsMs} ms, all registered in ${allRegisteredMs} ms`);
  const spread = await phase(
    sys,
    seeded,
    devices,
    senders,
    shuffled(ordinary),
    plan.rate,
    plan.seconds,
    plan.coalesceMs,
    "spread",
  );
  log(`spread: badge p50 ${spread.badge.p50} ms, p99 ${spread.badge.p99} ms, ${spread.badgeMissing} missed`);
  const hot = await phase(
    sys,
    seeded,
    devices,
    senders,
    [seeded.hotRoom],
    plan.hotRate,
    plan.hotSeconds,
    plan.coalesceMs,
    "hot",
  );
  log(`hot room: badge p50 ${hot.badge.p50} ms, p99 ${hot.badge.p99} ms, ${hot.badgeMissing} missed`);
  await drained(sys, [...seeded.rooms.keys()], spread.acked + hot.acked);
  // Every user reads one room (REST), so read marks and their badges are checked too.
  const reads = seeded.userIds.map((_, i) => {
    const device = devices[i] as Device;
    const entry = shuffled([...device.rooms.values()].filter((r) => r.lastSeq > 0))[0];
    return entry ? { i, roomId: entry.id, seq: entry.lastSeq } : null;
  });
  let next = 0;
  const lane = async () => {
    while (next < reads.length) {
      const r = reads[next++];
      if (!r) continue;
      for (let attempt = 0; attempt < 3; attempt++) {
        const ok = await fetch(`http://127.0.0.1:${port}/api/rooms/${r.roomId}/read`, {
          method: "POST",
          headers: { Authorization: `Bearer ${seeded.tokens[r.i]}`, "content-type": "application/json" },
          body: JSON.stringify({ seq: r.seq }),
        }).then(
          async (res) => {
            await res.arrayBuffer();
            return res.ok;
          },
          () => false,
        );
        if (ok) break;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  await readsDrained(
    sys,
    reads.flatMap((r) => (r ? [{ userId: seeded.userIds[r.i] as string, ...r }] : [])),
  );
  await sleep(2 * plan.coalesceMs + 1000);
  const check = await checkAgainstPostgres(sys, seeded, devices);
  for (const d of devices) d.ws.close();
  for (const s of senders.values()) s.ws.close();
  return {
    users: plan.users,
    roomsPerUser: plan.roomsPerUser,
    connect: { upgrade: summarize(upgrades), snapshot: summarize(snapshots), allSnapshotsMs, allRegisteredMs, failed },
    watchCallsPerInbox: round(watchCalls / Math.max(1, devices.length)),
    spread,
    hot,
    lostUpdates: check.mismatches.length + spread.badgeMissing + hot.badgeMissing,
    checkedEntries: check.checked,
    mismatches: check.mismatches.slice(0, 10),
  };
}

export function inboxReport(r: InboxResult, plan: InboxPlan): string {
  const row = (name: string, p: InboxPhase) =>
    `| ${name} | ${p.rooms} × ${p.membersPerRoom} | ${p.rate}/s | ${p.acked}/${p.sent} | ${p.badge.p50} | ${p.badge.p99} | ${p.badge.max} | ${p.badgeMissing} | ${p.inboxUpdatesPerMessage} | ${p.roomCallsPerMessage} | ${p.roomCallsPerRoomSecond} (budget ${p.budgetPerRoomSecond}) | ${p.minUpdateGapMs} | ${p.runtimeCpuMsPerMessage} |`;
  return [
    `### Inbox: ${r.users} inboxes × ${r.roomsPerUser} rooms each (+ one room with everyone), INBOX_COALESCE_MS ${plan.coalesceMs}`,
    "",
    `Connect storm (all ${r.users} at once): 101 p50 ${r.connect.upgrade.p50} ms, p99 ${r.connect.upgrade.p99} ms; snapshot p50 ${r.connect.snapshot.p50} ms, p99 ${r.connect.snapshot.p99} ms, all snapshots in ${r.connect.allSnapshotsMs} ms, all registered with every room in ${r.connect.allRegisteredMs} ms, ${r.connect.failed} failed; ${r.watchCallsPerInbox} registrations (inbox→room calls) per inbox.`,
    "",
    "| phase | rooms × members | rate | acked | badge p50 ms | p99 ms | max ms | missed | inbox updates / msg | room→inbox calls / msg | calls / room / s | min gap between updates, ms | runtime CPU ms / msg |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    row("spread", r.spread),
    row("hot room", r.hot),
    "",
    `Lost updates: **${r.lostUpdates}** (${r.checkedEntries} inbox entries checked against Postgres: unread, last seq, read mark).`,
    ...(r.mismatches.length ? ["", ...r.mismatches.map((m) => `- ${m}`)] : []),
    "",
  ].join("\n");
}

/** `--inbox-users N --inbox-rooms R --inbox-members M --inbox-rate X --inbox-seconds S` override the plan. */
export function inboxPlan(argv: string[], quick: boolean): InboxPlan {
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(`--inbox-${name}`);
    const n = i >= 0 ? Number(argv[i + 1]) : Number.NaN;
    return Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    users: arg("users", quick ? 40 : 200),
    roomsPerUser: arg("rooms", quick ? 3 : 10),
    membersPerRoom: arg("members", quick ? 10 : 20),
    rate: arg("rate", quick ? 10 : 20),
    seconds: arg("seconds", quick ? 3 : 20),
    hotRate: arg("hot-rate", 10),
    hotSeconds: arg("hot-seconds", quick ? 3 : 10),
    coalesceMs: 1000,
  };
}
