/**
 * `npm run chaos`: a fault run against `npm run dev` on its own Postgres and Redis. Many SDK clients send
 * into a few rooms while Postgres is crashed, Redis paused and wiped, and the whole stack killed; then
 * the checker counts loss, duplicates, disorder and gaps against Postgres, REST history and every
 * client's view. Exits 1 on any of them. See README "Reliability".
 */
import "./ts-resolve.ts";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { ackConflicts, type Counts, check, postgresSource, restSource, total } from "./check.ts";
import { ChaosClient, makeApi, type SentRecord } from "./clients.ts";
import { type FaultLog, plan, runFaults } from "./faults.ts";
import { parseOptions } from "./options.ts";
import { startPostgres } from "./postgres.ts";
import { installExitHandlers, sleep, waitFor } from "./procs.ts";
import { startRedis } from "./redis.ts";
import { createStack } from "./stack.ts";

const opts = parseOptions(process.argv.slice(2));
const t0 = Date.now();
const log = (line: string) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const figure = (name: string, value: string | number) => console.log(`${name.padEnd(48)} ${value}`);

installExitHandlers();
const dir = mkdtempSync(path.join(tmpdir(), "edgechat-chaos-"));
chmodSync(dir, 0o755);
log(`options ${JSON.stringify(opts)}; logs in ${dir}`);

const postgres = await startPostgres(path.join(dir, "pg"), "edgechat_chaos", path.join(dir, "postgres.log"));
const redis = await startRedis();
log(`own Postgres ${postgres.url.replace(/:[^:@]*@/, ":***@")}, own Redis ${redis.url}`);
const stack = await createStack({
  databaseUrl: postgres.url,
  redisUrl: redis.url,
  persistDir: path.join(dir, "wrangler"),
  logFile: path.join(dir, "dev.log"),
  port: opts.port,
  env: {
    // One address signs up every client; the in-room throttle stays on but lets resend bursts through.
    RATE_LIMIT_AUTH_PER_MINUTE: "100000",
    RATE_LIMIT_IP_PER_MINUTE: "1000000",
    RATE_LIMIT_USER_PER_MINUTE: "1000000",
    THROTTLE_MESSAGES: "20",
    ADMIN_EMAILS: "chaos-admin@example.test",
  },
});
await stack.start();
log(`npm run dev answers at ${stack.baseUrl}`);

const sdk = await import("../../src/client/index.ts");
const owner = makeApi(sdk, stack.baseUrl);
await owner.register({
  email: "chaos-admin@example.test",
  displayName: "chaos admin",
  password: "correct horse battery",
});
const rooms: string[] = [];
for (let r = 0; r < opts.rooms; r++) rooms.push((await owner.rooms.create({ name: `chaos ${r}` })).id);
const ledger = new Map<string, SentRecord>();
const clients: ChaosClient[] = [];
for (let i = 0; i < opts.clients; i++) {
  const api = makeApi(sdk, stack.baseUrl);
  const user = await api.register({
    email: `chaos-${i}@example.test`,
    displayName: `chaos ${i}`,
    password: "correct horse battery",
  });
  for (const id of rooms) await owner.rooms.invite(id, user.id);
  clients.push(new ChaosClient(i, api, rooms));
}
log(`${clients.length} clients in ${rooms.length} rooms`);

const pool = new pg.Pool({ connectionString: postgres.url, max: 2, connectionTimeoutMillis: 2000 });
pool.on("error", () => {}); // idle clients die with every Postgres crash; the next query reconnects
const lastAcked = () =>
  rooms.map((_, r) => Math.max(0, ...[...ledger.values()].filter((m) => m.room === r).flatMap((m) => [...m.ackSeqs])));
/** Ms until Postgres holds, per room, every seq up to the highest acked now (null after 180 s). */
const measureDrain = async () => {
  const target = lastAcked();
  const began = Date.now();
  const ok = await waitFor(
    async () => {
      for (const [r, id] of rooms.entries()) {
        const { rows } = await pool.query<{ n: string }>(
          "select count(*) as n from messages where room_id = $1 and seq <= $2",
          [id, target[r]],
        );
        if (Number(rows[0]?.n) < (target[r] ?? 0)) return false;
      }
      return true;
    },
    180_000,
    100,
  );
  return ok ? Date.now() - began : null;
};

// --- traffic and faults ---------------------------------------------------------------------------
const startedAt = Date.now();
const stopAt = startedAt + opts.durationS * 1000;
let settling = true;
const keepTrying = () => settling;
const senders = clients.map(async (c) => {
  let n = 0;
  while (Date.now() < stopAt) {
    await sleep((1000 / opts.rate) * (0.5 + Math.random()));
    // Bounded: a client whose room is unreachable stops adding to what it already waits on.
    if (c.pending >= 25 || Date.now() >= stopAt) continue;
    const room = Math.floor(Math.random() * rooms.length);
    const rec: SentRecord = {
      id: `c${c.index}-r${room}-${n++}`,
      room,
      client: c.index,
      firstAt: Date.now(),
      attempts: 0,
      ackSeqs: new Set(),
    };
    ledger.set(rec.id, rec);
    c.send(rec, keepTrying);
  }
});
const progress = setInterval(() => {
  const acked = [...ledger.values()].filter((m) => m.ackSeqs.size).length;
  const reconnects = clients.reduce((n, c) => n + c.figures.reconnects, 0);
  const states = new Map<string, number>();
  for (const c of clients) for (const s of c.states()) states.set(s, (states.get(s) ?? 0) + 1);
  const stuck = clients.reduce((n, c) => n + c.figures.stuck, 0);
  log(
    `sent ${ledger.size}, acked ${acked}, reconnects ${reconnects}, watchdog ${stuck}, ${[...states].map(([s, n]) => `${s} ${n}`).join(", ")}`,
  );
}, 15_000);
const kinds = plan(opts, opts.seed);
log(`faults (seed ${opts.seed}): ${kinds.join(", ")}`);
const faults: FaultLog[] = await runFaults(
  kinds,
  { postgres, redis, stack, measureDrain, log },
  { startedAt, durationMs: opts.durationS * 1000, downMs: opts.downMs, stopped: () => Date.now() > stopAt + 60_000 },
);
await Promise.all(senders);
log("sending stopped; waiting for acks, client views and the outbox");

// --- settle -------------------------------------------------------------------------------------
const unacked = () => [...ledger.values()].filter((m) => m.ackSeqs.size === 0).length;
await waitFor(() => unacked() === 0, 90_000, 250);
settling = false;
const token = await owner.accessToken();
const lastSeqs: number[] = [];
for (const id of rooms) {
  const r = await fetch(`${stack.baseUrl}/api/admin/rooms/${id}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await r.json()) as { live?: { lastSeq: number } | null };
  lastSeqs.push(body.live?.lastSeq ?? Math.max(...lastAcked()));
}
const viewsDone = await waitFor(
  () => clients.every((c) => rooms.every((_, r) => c.lastSeen(r) >= (lastSeqs[r] ?? 0))),
  60_000,
  250,
);
const finalDrainMs = await measureDrain();
clearInterval(progress);

// --- check --------------------------------------------------------------------------------------
const pgSource = await postgresSource(postgres.url, rooms);
const rest = await restSource(owner, rooms);
const pgRooms = check(pgSource.rooms, ledger, lastSeqs);
const restRooms = check(rest.rooms, ledger, lastSeqs);
// Per room, every client's view summed.
const viewRooms = rooms.map((_, r) => total(clients.map((c) => check(c.views, ledger, lastSeqs)[r] as Counts)));
const inPg = total(pgRooms);
const inRest = total(restRooms);
const inViews = total(viewRooms);
const conflicts = ackConflicts(ledger);
const stored = new Set(pgSource.rooms.flatMap((l) => l.map((m) => m.clientMsgId)));
const unackedRecs = [...ledger.values()].filter((m) => m.ackSeqs.size === 0);
// The room's own system messages (joins from the invites above) carry clientMsgId "system:<version>".
const systemMessages = [...stored].filter((id) => id.startsWith("system:")).length;
const foreign = [...stored].filter((id) => !ledger.has(id) && !id.startsWith("system:")).length;
const drains = faults.filter((f) => f.drainMs !== undefined).map((f) => f.drainMs);
const logText = readFileSync(path.join(dir, "dev.log"), "utf8");
const errorsByCode = new Map<string, number>();
for (const c of clients) for (const [k, v] of c.figures.errors) errorsByCode.set(k, (errorsByCode.get(k) ?? 0) + v);

console.log("");
figure("duration (s)", opts.durationS);
figure("clients × rooms", `${opts.clients} × ${opts.rooms}`);
figure("faults injected", faults.map((f) => f.kind).join(", ") || "none");
figure("sent", ledger.size);
figure("acked", ledger.size - unackedRecs.length);
figure(
  "unacked at the end (may or may not exist)",
  `${unackedRecs.length} (${unackedRecs.filter((m) => stored.has(m.id)).length} stored)`,
);
figure(
  "sends the runner retried (beyond the SDK's own)",
  [...ledger.values()].reduce((n, m) => n + m.attempts - 1, 0),
);
figure("lost: acked, not in Postgres", inPg.lost);
figure("lost: acked, not in REST history", inRest.lost);
figure("lost: acked, missing from a client's view", inViews.lost);
figure("duplicated: one clientMsgId acked with two seqs", conflicts);
figure(
  "duplicated: Postgres / REST / client views",
  `${inPg.duplicated} / ${inRest.duplicated} / ${inViews.duplicated}`,
);
figure(
  "acked seq holding another message: PG/REST/views",
  `${inPg.mismatched} / ${inRest.mismatched} / ${inViews.mismatched}`,
);
figure(
  "out of order: Postgres / REST / client views",
  `${inPg.outOfOrder} / ${inRest.outOfOrder} / ${inViews.outOfOrder}`,
);
figure("gaps in seq: Postgres / REST / client views", `${inPg.gaps} / ${inRest.gaps} / ${inViews.gaps}`);
figure("messages in Postgres not sent by this run", foreign);
figure("system messages (joins) in Postgres", systemMessages);
for (const r of rooms.keys()) {
  const [p, h, v] = [pgRooms[r], restRooms[r], viewRooms[r]] as Counts[];
  figure(
    `room ${r}: last seq; rows in Postgres, REST`,
    `${lastSeqs[r]}; ${pgSource.rooms[r]?.length}, ${rest.rooms[r]?.length}`,
  );
  figure(`room ${r}: gaps PG/REST/views`, `${p?.gaps} / ${h?.gaps} / ${v?.gaps}`);
  figure(`room ${r}: out of order PG/REST/views`, `${p?.outOfOrder} / ${h?.outOfOrder} / ${v?.outOfOrder}`);
  figure(`room ${r}: lost PG/REST/views`, `${p?.lost} / ${h?.lost} / ${v?.lost}`);
}
figure("client views caught up with every room", viewsDone ? "yes" : "NO");
figure(
  "outbox drain after Postgres returns (ms, each)",
  drains.map((d) => (d === null ? "timeout" : d)).join(", ") || "no Postgres fault",
);
figure("outbox drain at the end (ms)", finalDrainMs ?? "timeout");
figure(
  "stack restarts (ms to healthy, each)",
  faults
    .filter((f) => f.kind === "stack-kill")
    .map((f) => f.recoveryMs)
    .join(", ") || "none",
);
figure("npm run dev exits we did not cause (restarted)", stack.unplannedExits);
figure(
  "connections the watchdog reopened (silent 45 s)",
  clients.reduce((n, c) => n + c.figures.stuck, 0),
);
figure(
  "client reconnects / connections replaced",
  `${clients.reduce((n, c) => n + c.figures.reconnects, 0)} / ${clients.reduce((n, c) => n + c.figures.replaced, 0)}`,
);
figure("error frames by code", [...errorsByCode].map(([k, v]) => `${k} ${v}`).join(", ") || "none");
figure(
  "worker log lines with Uncaught / TypeError",
  logText.split("\n").filter((l) => /Uncaught|TypeError/.test(l)).length,
);

const bad =
  inPg.lost +
  inRest.lost +
  inViews.lost +
  conflicts +
  inPg.duplicated +
  inRest.duplicated +
  inViews.duplicated +
  inPg.mismatched +
  inRest.mismatched +
  inViews.mismatched +
  inPg.outOfOrder +
  inRest.outOfOrder +
  inViews.outOfOrder +
  inPg.gaps +
  inRest.gaps +
  inViews.gaps +
  foreign;
const failed = bad > 0 || !viewsDone || finalDrainMs === null || drains.includes(null);
console.log(failed ? "\nCHAOS FAILED" : "\nchaos: no loss, no duplicates, gapless");

for (const c of clients) c.close();
owner.close();
await pool.end();
await stack.close();
await redis.close();
await postgres.close();
if (failed || opts.keep) log(`logs kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
