/** Starting, seeding and stopping the systems under test, each in its own process group. */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startDevServer, stopGroup } from "../../scripts/local-stack/dev-server.ts";
import { freePort, isPortOpen } from "../../scripts/local-stack/ports.ts";
import { signAccessToken } from "../../src/lib/jwt.ts";
import { pidsMatching, processTree } from "../lib/proc.ts";
import type { SocketSpec } from "../load/subscribers.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NODE = process.execPath;

export interface RunningSystem {
  name: string;
  /** Every process whose CPU and memory count as this system's (server, bridges, databases). */
  pids(): number[];
  /** Pids of the runtime that holds the sockets (for memory per socket). */
  runtimePids(): number[];
  stop(): Promise<void>;
}

/**
 * Servers run on core 0 and the load generator on core 1 (see pinLoadGenerator), so the two never
 * compete for a core and the generator's own CPU shows whether it was the bottleneck.
 */
export const SERVER_CPUS = "0";
const pinned = (args: string[]) =>
  (hasTaskset() ? ["taskset", ["-c", SERVER_CPUS, ...args]] : [args[0], args.slice(1)]) as [string, string[]];

let tasksetChecked: boolean | null = null;
export function hasTaskset(): boolean {
  // BENCH_PIN=0: no pinning, e.g. to profile one process without others preempting it on its core.
  if (process.env.BENCH_PIN === "0") return false;
  if (tasksetChecked === null) {
    try {
      execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** Pins this process (and the worker threads it starts later) to core 1. */
export function pinLoadGenerator(): boolean {
  if (!hasTaskset()) return false;
  execFileSync("taskset", ["-a", "-cp", "1", String(process.pid)], { stdio: "ignore" });
  return true;
}

async function startNodeServer(
  name: string,
  script: string,
  args: string[],
): Promise<RunningSystem & { port: number }> {
  const [cmd, argv] = pinned([NODE, path.join(ROOT, script), "0", ...args]);
  const child = spawn(cmd, argv, { detached: true, stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
  const port = Number(/listening (\d+)/.exec(line.toString())?.[1]);
  const pid = child.pid as number;
  return { name, port, pids: () => [pid], runtimePids: () => [pid], stop: () => stopGroup(child) };
}

export function startFloor() {
  return startNodeServer("floor", "bench/servers/floor.ts", []);
}

/** Socket.IO 4 with rooms; with a database URL it stores every message row by row before acking. */
export async function startSocketIo(databaseUrl?: string) {
  const sys = await startNodeServer(
    databaseUrl ? "socket.io + postgres" : "socket.io",
    "bench/servers/socketio.ts",
    databaseUrl ? ["--pg", databaseUrl] : [],
  );
  const dbServers = () => (databaseUrl ? postgresBackends(new URL(databaseUrl).pathname.slice(1)) : []);
  const own = sys.pids;
  return {
    ...sys,
    // The persisting variant's cost includes Postgres, as edgechat's does.
    pids: () => (databaseUrl ? [...new Set([...own(), ...dbServers()])] : own()),
    socket: {
      url: `ws://127.0.0.1:${sys.port}/socket.io/?EIO=4&transport=websocket`,
      headers: {},
      dialect: "socketio" as const,
    },
  };
}

/** Rows the persisting peer stored for sends whose ids start with `prefix`. */
export async function countPeerRows(databaseUrl: string, prefix: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query("select count(*)::int as n from peer_messages where client_msg_id like $1", [
      `${prefix}%`,
    ]);
    return r.rows[0].n as number;
  } finally {
    await client.end();
  }
}

/** `count` rows in the peer's table for `room` (as its write path stores them); returns the first id. */
export async function seedPeerHistory(databaseUrl: string, room: string, count: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query(
      `insert into peer_messages (room, client_msg_id, body)
       select $1, 'hist-' || n, repeat('x', 200) from generate_series(1, $2) as n returning id`,
      [room, count],
    );
    return Math.min(...r.rows.map((row: { id: string }) => Number(row.id)));
  } finally {
    await client.end();
  }
}

export interface EdgechatSystem extends RunningSystem {
  port: number;
  /**
   * The worker runtime's own port, behind wrangler dev's proxy. Production has no such proxy, so runs
   * against this port show what the worker and rooms cost without the local relay hop.
   */
  directPort: number;
  databaseUrl: string;
  /** The bench's own redis-server (what the Upstash bridge in front of it serves). */
  redisUrl: string;
  secrets: Record<string, string>;
}

/** `npm run dev`'s stack on spare ports with its own database, the throttle lifted for load, persistence on. */
export async function startEdgechat(
  logFile: string,
  vars: Record<string, string> = {},
  o: { timeoutMs?: number } = {},
): Promise<EdgechatSystem> {
  const database = "edgechat_bench";
  const stateDir = roomStateDir();
  const redis = await startPrivateRedis();
  const server = await startDevServer({
    database,
    logFile,
    // Load comes from one address and a few users: the REST limits would measure themselves.
    env: {
      THROTTLE_MESSAGES: "1000000",
      THROTTLE_WINDOW_MS: "1000",
      ACCESS_TOKEN_TTL_SECONDS: "3600",
      RATE_LIMIT_IP_PER_MINUTE: "100000000",
      RATE_LIMIT_USER_PER_MINUTE: "100000000",
      // wrangler dev streams every event of the worker to a local observability collector (a tail
      // worker in the same runtime): a third of the runtime's CPU per message in bench:profile's perf
      // view. It is a dev-tool feature production does not run, so the benchmark turns it off.
      X_LOCAL_OBSERVABILITY: "false",
      // Under wrangler dev every log line is relayed and reformatted by wrangler's Node process (about
      // 4 ms of its CPU per request in bench:profile history); production ships logs off the request
      // path. Warnings and errors still show.
      LOG_LEVEL: "warn",
      DEV_PERSIST_DIR: stateDir,
      REDIS_URL: redis.url,
      ...vars,
    },
    cpus: hasTaskset() ? SERVER_CPUS : undefined,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
  }).catch(async (err: Error) => {
    await redis.stop();
    throw err;
  });
  const { port, secrets } = server;
  const devPid = server.pid;
  // A runtime under valgrind (bench:instructions) answers its first requests slowly.
  const directPort = await findDirectPort(devPid, '"postgres"', o.timeoutMs ? 60_000 : 2000);
  return {
    name: "edgechat",
    port,
    directPort,
    databaseUrl: `postgres://${process.env.PGUSER ?? "postgres"}@127.0.0.1:5432/${database}`,
    redisUrl: redis.url,
    secrets,
    pids: () => [...new Set([...processTree([devPid]), ...postgresBackends(database), redis.pid])],
    runtimePids: () => workerRuntime(devPid),
    stop: async () => {
      await server.stop();
      await redis.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * The Postgres backends serving `database` (their process titles name it). Postgres is a shared service on
 * this machine (other checkouts' test suites use it too), so only the bench database's own backends count.
 */
export function postgresBackends(database: string): number[] {
  return pidsMatching(new RegExp(`^postgres: .*\\b${database}\\b`));
}

/** The workerd that runs the worker and its objects (not wrangler dev's proxy). */
export function workerRuntime(devPid: number): number[] {
  return processTree([devPid]).filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return cmd.includes("workerd") && cmd.includes("--inspector-addr");
    } catch {
      return false;
    }
  });
}

/**
 * A redis-server of the benchmark's own, pinned with the servers: the machine's shared Redis also serves
 * other test suites, whose CPU would be counted as edgechat's.
 */
export async function startPrivateRedis(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const [cmd, argv] = pinned([
    "redis-server",
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  const child = spawn(cmd, argv, { detached: true, stdio: "ignore" });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`);
    if (await isPortOpen("127.0.0.1", port, 100)) break;
    if (i > 100) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = pidsMatching(new RegExp(`redis-server 127\\.0\\.0\\.1:${port}`))[0] ?? (child.pid as number);
  return { url: `redis://127.0.0.1:${port}`, pid, stop: () => stopGroup(child) };
}

/**
 * Where wrangler dev keeps the rooms' SQLite: tmpfs unless BENCH_STATE=disk. A production room commits
 * by replicating to other machines, never by fsync on the server's own disk; local workerd fsyncs on
 * every commit, and on this VM's shared disk those fsyncs stall behind Postgres's own (ack p99 163 ms
 * at 20/s and 250/s unsustainable on disk in the 2026-12-02 run). Postgres stays on disk for every system.
 */
function roomStateDir(): string {
  const base = process.env.BENCH_STATE !== "disk" && existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
  return mkdtempSync(path.join(base, "edgechat-bench-state-"));
}

/**
 * Of the worker runtime's listening ports, the one that answers /health with `marker` in its body: the
 * worker's own socket, without wrangler dev's proxy in front.
 */
export async function findDirectPort(devPid: number, marker = '"postgres"', probeMs = 2000): Promise<number> {
  const runtime = processTree([devPid]).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--inspector-addr");
    } catch {
      return false;
    }
  });
  const listing = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  for (const line of listing.split("\n")) {
    if (!runtime.some((pid) => line.includes(`pid=${pid},`))) continue;
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    const body = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(probeMs) }).then(
      (r) => r.text(),
      () => "",
    );
    if (body.includes(marker)) return port;
  }
  throw new Error("could not find the worker runtime's own port");
}

/** A room with one sender and `subscribers` members, each with an access token. */
export async function seedRoom(sys: EdgechatSystem, subscribers: number, port = sys.port) {
  const [room] = await seedRooms(sys, 1, subscribers + 1, port);
  const [sender, ...rest] = (room as SeededRoom).members;
  return { room: (room as SeededRoom).id, sender: sender as SocketSpec, subscribers: rest };
}

export interface SeededRoom {
  id: string;
  /** One socket spec per member; the first is the room's owner. */
  members: SocketSpec[];
}

/** `rooms` group rooms of `members` users each (one SQL statement per table), with access tokens. */
export async function seedRooms(sys: EdgechatSystem, rooms: number, members: number, port = sys.port) {
  const users = await seedUsers(sys, rooms * members);
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    const run = crypto.randomUUID().slice(0, 8);
    const ids = users.map((u) => u.id);
    const roomIds = Array.from({ length: rooms }, () => crypto.randomUUID());
    await client.query(
      `insert into rooms (id, kind, name, created_by)
       select id, 'group', 'bench ' || $3 || ' ' || n, ($2::uuid[])[(n - 1) * $4 + 1]
       from unnest($1::uuid[]) with ordinality as t(id, n)`,
      [roomIds, ids, run, members],
    );
    await client.query(
      `insert into room_members (room_id, user_id, role)
       select ($2::uuid[])[(n - 1) / $3 + 1], id, case when (n - 1) % $3 = 0 then 'owner' else 'member' end
       from unnest($1::uuid[]) with ordinality as t(id, n)`,
      [ids, roomIds, members],
    );
    return roomIds.map((id, r) => seeded(id, users.slice(r * members, (r + 1) * members), port));
  } finally {
    await client.end();
  }
}

/**
 * Rooms made through the API (POST /api/rooms with their members), as the product makes them: each room
 * records its members as they join, so it can vouch for them at upgrade without asking Postgres
 * (src/durable-objects/member-cache.ts). Users and sessions still go straight into Postgres.
 */
export async function seedRoomsThroughApi(sys: EdgechatSystem, rooms: number, members: number, port = sys.port) {
  const users = await seedUsers(sys, rooms * members);
  const out: SeededRoom[] = [];
  const queue = Array.from({ length: rooms }, (_, r) => r);
  const create = async () => {
    for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
      const [owner, ...rest] = users.slice(r * members, (r + 1) * members) as [SeededUser, ...SeededUser[]];
      const res = await fetch(`http://127.0.0.1:${sys.directPort}/api/rooms`, {
        method: "POST",
        headers: { authorization: `Bearer ${owner.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `bench ${r}`, members: rest.map((u) => u.id) }),
      });
      if (res.status !== 201) throw new Error(`creating a bench room: HTTP ${res.status} ${await res.text()}`);
      const { room } = (await res.json()) as { room: { id: string } };
      out[r] = seeded(room.id, [owner, ...rest], port);
    }
  };
  await Promise.all(Array.from({ length: 8 }, create));
  return out;
}

interface SeededUser {
  id: string;
  token: string;
}

function seeded(roomId: string, users: SeededUser[], port: number): SeededRoom {
  return {
    id: roomId,
    members: users.map((u) => ({
      url: `ws://127.0.0.1:${port}/api/rooms/${roomId}/ws`,
      headers: { Authorization: `Bearer ${u.token}` },
    })),
  };
}

/** `count` users, each with a live session and an access token (one SQL statement per table). */
async function seedUsers(sys: EdgechatSystem, count: number): Promise<SeededUser[]> {
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    const run = crypto.randomUUID().slice(0, 8);
    const ids = Array.from({ length: count }, () => crypto.randomUUID());
    await client.query(
      `insert into users (id, email, display_name, password_hash)
       select id, 'bench-' || $2 || '-' || n || '@bench.test', 'bench ' || n, 'x'
       from unnest($1::uuid[]) with ordinality as t(id, n)`,
      [ids, run],
    );
    // Access tokens name a live session; one per seeded user, as a login would start.
    const sessionIds = ids.map(() => crypto.randomUUID());
    await client.query("insert into sessions (id, user_id) select * from unnest($1::uuid[], $2::uuid[])", [
      sessionIds,
      ids,
    ]);
    const env = {
      ...sys.secrets,
      JWT_ISSUER: "edgechat",
      JWT_AUDIENCE: "edgechat-api",
      ACCESS_TOKEN_TTL_SECONDS: "3600",
    };
    const tokens = await Promise.all(
      ids.map((id, i) => signAccessToken(env as never, { userId: id, sessionId: sessionIds[i] as string })),
    );
    return ids.map((id, i) => ({ id, token: tokens[i] as string }));
  } finally {
    await client.end();
  }
}

export async function countRows(sys: EdgechatSystem, room: string): Promise<number> {
  const client = new pg.Client({ connectionString: sys.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query("select count(*)::int as n from messages where room_id = $1", [room]);
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}
