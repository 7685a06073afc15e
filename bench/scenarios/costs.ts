/**
 * What it costs (issue 24): one room of `members` (made through the API), all but `offline` of them
 * connected, one of them sending `messages` messages at `rate`/s. Counted while it runs, at the edges the
 * local stack shares with production: WebSocket frames into the room, upgrades, Redis commands (the bench's
 * own redis-server, MONITOR: what Upstash bills, a script counting once), Postgres transactions and backend CPU
 * (pg_stat_database and /proc: one neon-http call is one transaction), queue jobs and inbox pushes (the
 * app's own counters in Redis), the worker runtime's CPU. Then priced at the published list prices (see
 * bench/lib/prices.ts: each with its page and the date it was read) and compared with what a hosted service would bill
 * for the same messages.
 *
 * Two lines are estimated rather than counted, and say so: Durable Object duration (the room is active from
 * the first message to ten seconds after the last, then hibernates: the platform's own rule) and alarm runs
 * (the outbox arms one 10 s after a flush starts; at most one per 10 s while busy). SQLite rows written per
 * message come from test/worker/perf-costs.test.ts, which counts them inside a real room.
 */
import { Socket } from "node:net";
import pg from "pg";
import { PRICES, ROWS_READ_PER_MESSAGE, ROWS_WRITTEN_PER_MESSAGE } from "../lib/prices.ts";
import { breakdown, snapshot } from "../lib/proc.ts";
import { Sender, Subscribers } from "../load/clients.ts";
import { type EdgechatSystem, seedRoomsThroughApi } from "../servers/systems.ts";

export interface CostPlan {
  members: number;
  offline: number;
  messages: number;
  rate: number;
  bodyBytes: number;
}

export interface CostResult {
  plan: CostPlan;
  seconds: number;
  counts: {
    /** Frames the room received (the sends), and what the platform bills for them (20:1). */
    websocketMessagesIn: number;
    doRequestsBilled: number;
    alarmRunsEstimated: number;
    doActiveSecondsEstimated: number;
    doRowsWritten: number;
    workerRequests: number;
    workerCpuMs: number;
    upstashCommands: number;
    neonTransactions: number;
    neonCpuMs: number;
    queueJobs: number;
    queueOperations: number;
    inboxPushes: number;
    r2Operations: number;
  };
  /** USD per 1,000 messages, by line. */
  usd: Record<string, number>;
  usdTotal: number;
  ably: number;
  pusher: number;
  /** Deliveries per message (online members other than the sender, plus the sender's own copy). */
  deliveriesPerMessage: number;
  connectCosts: { upgrades: number; upstashCommands: number; neonTransactions: number; runtimeCpuMsPerUpgrade: number };
}

/** One RESP command to a Redis server, answered as text. */
function redisCommand(url: string, args: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let data = "";
    socket.setEncoding("utf8");
    socket.connect(Number(port), hostname, () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
    });
    socket.on("data", (chunk) => {
      data += chunk;
      const m = /^\$(\d+)\r\n/.exec(data);
      const done = (m && Buffer.byteLength(data) >= m[0].length + Number(m[1]) + 2) || /^[*+:-]/.test(data);
      if (done) {
        socket.end();
        resolve(data);
      }
    });
    socket.on("error", reject);
  });
}

/**
 * Counts the commands clients send to a Redis server (MONITOR; commands a Lua script runs show as
 * `[… lua]` and are not counted: Upstash bills a script as one command), until `stop()`.
 */
function redisMonitor(url: string) {
  const { hostname, port } = new URL(url);
  const socket = new Socket();
  let top = 0;
  let rest = "";
  socket.setEncoding("utf8");
  socket.connect(Number(port), hostname, () => socket.write("*1\r\n$7\r\nMONITOR\r\n"));
  socket.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\r\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (!/^\+\d/.test(line) || / lua\]/.test(line)) continue;
      if (/"(INFO|HGETALL|MONITOR)"/i.test(line)) continue; // the bench's own
      top++;
    }
  });
  return {
    count: () => top,
    stop: () => socket.destroy(),
  };
}

/** The app's own counters (src/lib/metrics.ts flushes them to this hash), summed by series name. */
async function appCounters(url: string): Promise<Record<string, number>> {
  const text = await redisCommand(url, ["HGETALL", "metrics:counters"]);
  const lines = text.split("\r\n").filter((l) => l && !/^[*$]/.test(l));
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const name = (lines[i] as string).replace(/\{.*$/, "");
    out[name] = (out[name] ?? 0) + Number(lines[i + 1]);
  }
  return out;
}

async function pgTransactions(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      "select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()",
    );
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function costScenario(edge: EdgechatSystem, plan: CostPlan): Promise<CostResult> {
  const [room] = await seedRoomsThroughApi(edge, 1, plan.members, edge.directPort);
  if (!room) throw new Error("no room");
  const online = room.members.slice(0, plan.members - plan.offline);
  const [senderSpec, ...rest] = online;
  const redisUrl = edge.redisUrl;
  const monitor = redisMonitor(redisUrl);
  await settle(200);
  const pgBefore = async () => ({
    redis: monitor.count(),
    pg: await pgTransactions(edge.databaseUrl),
    counters: await appCounters(redisUrl),
    cpu: snapshot(edge.pids()),
  });

  // Connecting: each online member's upgrade, counted apart (once per session, not per message).
  const c0 = await pgBefore();
  const subs = new Subscribers(rest, 2);
  await subs.ready;
  const sender = new Sender(senderSpec as NonNullable<typeof senderSpec>);
  await sender.opened;
  await settle(3000);
  const c1 = await pgBefore();
  const connectCpu = breakdown(c0.cpu, edge.pids());

  // The messages.
  const started = performance.now();
  await subs.start("cost-");
  const run = await sender.run({
    rate: plan.rate,
    seconds: plan.messages / plan.rate,
    bodyBytes: plan.bodyBytes,
    idPrefix: "cost",
    settleMs: 3000,
  });
  await subs.stop();
  const seconds = (performance.now() - started) / 1000;
  // Let the outbox drain and the app flush its counters (every 5 s) before counting.
  await settle(7000);
  await fetch(`http://127.0.0.1:${edge.directPort}/health/live`).then((r) => r.arrayBuffer());
  await settle(1000);
  const c2 = await pgBefore();
  monitor.stop();
  const cpu = breakdown(c1.cpu, edge.pids());
  sender.close();
  await subs.close();

  const messages = run.sent;
  const per1000 = 1000 / Math.max(1, messages);
  const counter = (name: string) => (c2.counters[name] ?? 0) - (c1.counters[name] ?? 0);
  const runtimeMs = Object.entries(cpu)
    .filter(([name]) => name.startsWith("workerd (worker"))
    .reduce((n, [, ms]) => n + ms, 0);
  const neonCpuMs = Object.entries(cpu)
    .filter(([name]) => name === "postgres")
    .reduce((n, [, ms]) => n + ms, 0);
  const activeSeconds = plan.messages / plan.rate + 10;
  const queueJobs = counter("edgechat_queue_jobs_total");
  const counts = {
    websocketMessagesIn: messages,
    doRequestsBilled: 0,
    alarmRunsEstimated: Math.ceil(activeSeconds / 10),
    doActiveSecondsEstimated: activeSeconds,
    doRowsWritten: messages * ROWS_WRITTEN_PER_MESSAGE,
    // Frames go straight to the room after the upgrade: no worker request per message.
    workerRequests: 0,
    workerCpuMs: 0,
    upstashCommands: c2.redis - c1.redis,
    neonTransactions: c2.pg - c1.pg,
    neonCpuMs,
    queueJobs,
    queueOperations: queueJobs * 3,
    inboxPushes: counter("edgechat_inbox_pushes_total"),
    r2Operations: 0,
  };
  // Incoming WebSocket messages bill 20:1; alarms and inbox pushes (RPC into the inbox objects) one each.
  counts.doRequestsBilled = Math.ceil(messages / 20) + counts.alarmRunsEstimated + counts.inboxPushes;
  const scale = (n: number) => n * per1000;
  const usd: Record<string, number> = {
    "Durable Object requests": (scale(counts.doRequestsBilled) * PRICES.doRequestPerMillion) / 1e6,
    "Durable Object duration": (scale(activeSeconds * 0.128) * PRICES.doGbSecondPerMillion) / 1e6,
    "Durable Object rows written": (scale(counts.doRowsWritten) * PRICES.doRowWrittenPerMillion) / 1e6,
    "Durable Object rows read": (scale(messages * ROWS_READ_PER_MESSAGE) * PRICES.doRowReadPerMillion) / 1e6,
    "Upstash commands": (scale(counts.upstashCommands) * PRICES.upstashCommandPerMillion) / 1e6,
    "Neon compute (CPU time, lower bound)": (scale(neonCpuMs) / 3_600_000) * PRICES.neonCuHour,
    "Queue operations": (scale(counts.queueOperations) * PRICES.queueOpPerMillion) / 1e6,
  };
  const usdTotal = Object.values(usd).reduce((a, b) => a + b, 0);
  const deliveriesPerMessage = online.length;
  // Ably counts the publish and each delivery; Pusher's Startup plan spreads $49 over 30M messages a month.
  const hostedMessages = 1000 * (1 + deliveriesPerMessage);
  const ably = (hostedMessages * PRICES.ablyMessagePerMillion) / 1e6;
  const pusher = (hostedMessages * PRICES.pusherStartupMonthly) / (PRICES.pusherStartupMessagesPerDay * 30);
  void runtimeMs;
  return {
    plan,
    seconds: Math.round(seconds),
    counts,
    usd: Object.fromEntries(Object.entries(usd).map(([k, v]) => [k, Math.round(v * 1e6) / 1e6])),
    usdTotal: Math.round(usdTotal * 1e6) / 1e6,
    ably: Math.round(ably * 1e6) / 1e6,
    pusher: Math.round(pusher * 1e6) / 1e6,
    deliveriesPerMessage,
    connectCosts: {
      upgrades: online.length,
      upstashCommands: c1.redis - c0.redis,
      neonTransactions: c1.pg - c0.pg,
      runtimeCpuMsPerUpgrade:
        Math.round(
          (Object.entries(connectCpu)
            .filter(([name]) => name.startsWith("workerd (worker"))
            .reduce((n, [, ms]) => n + ms, 0) /
            Math.max(1, online.length)) *
            100,
        ) / 100,
    },
  };
}

export function costReport(r: CostResult): string[] {
  const c = r.counts;
  const k = (n: number) => Math.round(n * (1000 / Math.max(1, c.websocketMessagesIn)) * 10) / 10;
  return [
    `What it costs: ${r.plan.messages} messages (${r.plan.bodyBytes}-byte bodies, ${r.plan.rate}/s) in a ${r.plan.members}-member room with ${r.plan.offline} members offline; counts per 1,000 messages, priced at list prices read 2026-12-07 (bench/scenarios/costs.ts names each page).`,
    "",
    "| what | per 1,000 messages | how counted |",
    "|---|---|---|",
    `| WebSocket messages into the room | ${k(c.websocketMessagesIn)} | sends (billed 20:1) |`,
    `| Durable Object requests billed | ${k(c.doRequestsBilled)} | frames / 20 + alarm runs (estimated) + inbox pushes (counted) |`,
    `| Durable Object active time | ${k(c.doActiveSecondsEstimated)} s | estimated: first to last message + 10 s before hibernation |`,
    `| Durable Object SQLite rows written | ${k(c.doRowsWritten)} | ${ROWS_WRITTEN_PER_MESSAGE} per message (test/worker/perf-costs.test.ts) |`,
    `| Worker requests / CPU | ${k(c.workerRequests)} / ${k(c.workerCpuMs)} ms | frames bypass the worker after the upgrade |`,
    `| Upstash commands | ${k(c.upstashCommands)} | counted (MONITOR; a Lua script is one) |`,
    `| Neon transactions (HTTP calls) | ${k(c.neonTransactions)} | counted (pg_stat_database); ${k(c.neonCpuMs)} ms of Postgres CPU |`,
    `| Queue operations | ${k(c.queueOperations)} | ${k(c.queueJobs)} jobs × 3 (write, read, delete) |`,
    `| Inbox pushes (RPC) | ${k(c.inboxPushes)} | counted |`,
    `| R2 operations | ${k(c.r2Operations)} | no attachments |`,
    "",
    `Dollars per 1,000 messages: ${Object.entries(r.usd)
      .map(([name, v]) => `${name} $${v.toFixed(6)}`)
      .join(
        ", ",
      )}; **$${r.usdTotal.toFixed(6)} in all** (${r.deliveriesPerMessage} deliveries each). A hosted service for the same traffic: Ably $${r.ably.toFixed(4)} (publish + ${r.deliveriesPerMessage} deliveries at $2.50/M), Pusher Startup $${r.pusher.toFixed(4)} ($49 a month for 1M messages a day). Edgechat / Ably: **${r.ably > 0 ? Math.round((r.usdTotal / r.ably) * 1000) / 1000 : "-"}×**.`,
    "",
    `Connecting the ${r.connectCosts.upgrades} online members (once per session): ${r.connectCosts.upgrades} worker requests and room fetches, ${r.connectCosts.upstashCommands} Upstash commands, ${r.connectCosts.neonTransactions} Neon transactions, ${r.connectCosts.runtimeCpuMsPerUpgrade} ms of runtime CPU per upgrade.`,
    "",
  ];
}
