/**
 * A local stand-in for Neon's serverless proxy, so `@neondatabase/serverless` runs unchanged against
 * a plain Postgres: SQL over HTTP (`POST /sql`, what `neon()` and drizzle-orm/neon-http call) and
 * WebSocket-to-TCP (`/v1?address=host:port`, what `Pool`/`Client` use). Local tooling only: it listens on
 * 127.0.0.1 and forwards only to loopback Postgres servers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import net from "node:net";
import pg from "pg";
import { WebSocketServer } from "ws";
import { readJsonBody, sendJson } from "./http-util.ts";
import { closeServer, listen } from "./ports.ts";

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const ISOLATION: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};
/** The Postgres error fields Neon copies into its 400 replies (the driver reads exactly these). */
const PG_ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

/** Neon replies with Postgres' text output; keep every value as the server's text. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

interface QueryData {
  query: string;
  params?: unknown[];
}

export interface NeonProxy {
  port: number;
  /** Simulates an outage: every request and new socket fails until restored. */
  setCut(cut: boolean): void;
  stop(): Promise<void>;
}

export interface NeonProxyOptions {
  port?: number;
  /** host:port pairs the WebSocket tunnel may reach (the resolved Postgres); loopback only in any case. */
  allowedTargets?: string[];
  /** Expose `POST /__control/cut|restore` so tests running inside workerd can simulate an outage. */
  controlEndpoints?: boolean;
}

class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.body = { message, ...extra };
  }
}

export async function startNeonProxy(opts: NeonProxyOptions = {}): Promise<NeonProxy> {
  const pools = new Map<string, pg.Pool>();
  let cut = false;
  /** Outages limited to connection strings containing one of these, so parallel test files do not share a fault. */
  const cutMatches = new Set<string>();
  const isCut = (connectionString: string) => cut || [...cutMatches].some((m) => connectionString.includes(m));

  const poolFor = (connectionString: string): pg.Pool => {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({
        connectionString,
        types: RAW_TEXT,
        max: 10,
        connectionTimeoutMillis: 5000,
        // A caller that gave up must not pin a pool slot forever.
        statement_timeout: 30_000,
      });
      // An idle client dropping (server restart) must not crash the proxy; the pool replaces it.
      pool.on("error", () => {});
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const server: Server = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendJson(res, err.status, err.body);
      sendJson(res, 500, { message: `proxy internal error: ${(err as Error).message}` });
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!fromLocalClient(req)) throw new HttpError(403, "the local proxy only serves local, non-browser clients");
    const url = new URL(req.url ?? "/", "http://localhost");
    if (opts.controlEndpoints && url.pathname.startsWith("/__control/")) {
      const match = url.searchParams.get("match");
      const on = url.pathname === "/__control/cut";
      if (match) on ? cutMatches.add(match) : cutMatches.delete(match);
      else cut = on;
      return sendJson(res, 200, { cut, matches: [...cutMatches] });
    }
    if (url.pathname !== "/sql") throw new HttpError(404, `no such endpoint: ${url.pathname}`);
    if (req.method !== "POST") throw new HttpError(405, "only POST is supported");

    const connectionString = header(req, "neon-connection-string");
    if (!connectionString) throw new HttpError(400, "missing Neon-Connection-String header");
    if (isCut(connectionString)) {
      throw new HttpError(502, "Couldn't connect to compute node (local proxy is cut)", { code: "08006" });
    }
    checkLoopback(connectionString);
    const arrayMode = header(req, "neon-array-mode") === "true";
    const body = await readJsonBody(req, MAX_BODY_BYTES).catch((err: Error) => {
      throw new HttpError(400, err.message);
    });

    const pool = poolFor(connectionString);
    if (isBatch(body)) {
      const results = await runTransaction(pool, body.queries, {
        isolation: header(req, "neon-batch-isolation-level"),
        readOnly: header(req, "neon-batch-read-only") === "true",
        deferrable: header(req, "neon-batch-deferrable") === "true",
        arrayMode,
      });
      return sendJson(res, 200, { results });
    }
    if (!isQuery(body)) throw new HttpError(400, "body must be {query, params} or {queries: [...]}");
    const client = await connect(pool);
    let failure: unknown;
    try {
      sendJson(res, 200, await runQuery(client, body, arrayMode));
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      release(client, failure);
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const address = url.searchParams.get("address") ?? "";
    const [host, portText] = splitHostPort(address);
    const port = Number(portText);
    const allowed =
      fromLocalClient(req) &&
      url.pathname === "/v1" &&
      isLoopback(host) &&
      Number.isInteger(port) &&
      port > 0 &&
      port < 65536 &&
      (!opts.allowedTargets || opts.allowedTargets.includes(`${host}:${port}`)) &&
      !cut;
    if (!allowed) {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tcp = net.connect({ host, port });
      tcp.on("data", (chunk) => ws.send(chunk));
      tcp.on("error", () => ws.close(1011, "upstream error"));
      tcp.on("close", () => ws.close());
      ws.on("message", (data) => tcp.write(data as Buffer));
      ws.on("close", () => tcp.destroy());
      ws.on("error", () => tcp.destroy());
    });
  });

  const port = await listen(server, opts.port ?? 0, "Neon-compatible proxy", "NEON_PROXY_PORT");
  return {
    port,
    setCut: (value) => {
      cut = value;
    },
    stop: async () => {
      for (const ws of wss.clients) ws.terminate();
      await closeServer(server);
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}

/**
 * Browsers send Origin, and a DNS-rebinding page sends a foreign Host: refusing both keeps any web page
 * from reaching the local Postgres (trust auth, superuser) through this proxy. The drivers send neither.
 */
function fromLocalClient(req: IncomingMessage): boolean {
  const host = (req.headers.host ?? "").replace(/:\d+$/, "");
  return req.headers.origin === undefined && (host === "127.0.0.1" || host === "localhost" || host === "[::1]");
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isQuery(body: unknown): body is QueryData {
  return typeof body === "object" && body !== null && typeof (body as QueryData).query === "string";
}

function isBatch(body: unknown): body is { queries: QueryData[] } {
  const queries = (body as { queries?: unknown } | null)?.queries;
  return Array.isArray(queries) && queries.every(isQuery);
}

/** Clients whose connection failed while checked out: released with an error, so the pool drops them. */
const broken = new WeakSet<pg.PoolClient>();
const watched = new WeakSet<pg.PoolClient>();

async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new HttpError(502, `Couldn't connect to compute node: ${(err as Error).message}`, { code: "08006" });
  }
  // pg emits 'error' on a checked-out client whose connection dies (Postgres stopped hard mid-query), on top
  // of failing its query; the pool only listens while a client is idle. Unheard, that event is an uncaught
  // exception and ends the whole dev stack. The failed query already carries the error to its caller.
  if (!watched.has(client)) {
    watched.add(client);
    client.on("error", () => broken.add(client));
  }
  return client;
}

function release(client: pg.PoolClient, err?: unknown): void {
  // A connection-level failure leaves the client unusable: destroy it rather than hand it to the next request.
  const dead = broken.has(client) || (err !== undefined && isConnectionError(err));
  client.release(dead ? (err instanceof Error ? err : true) : undefined);
}

/** Errors after which the connection is gone: admin shutdown (57P01…57P03), connection class 08, socket errors. */
function isConnectionError(err: unknown): boolean {
  const code = err instanceof HttpError ? err.body.code : (err as { code?: unknown }).code;
  // No Postgres error code at all: the socket or the protocol failed, not the statement.
  if (typeof code !== "string") return true;
  return /^(57P0[123]|08...)$/.test(code);
}

async function runQuery(client: pg.PoolClient, q: QueryData, arrayMode: boolean) {
  try {
    const values = q.params ?? [];
    // Extended protocol, as Neon uses: one statement per query, so "a; b" is refused before anything runs.
    // queryMode is supported by pg 8.23 but missing from @types/pg.
    const config = { text: q.query, values, queryMode: "extended", ...(arrayMode ? { rowMode: "array" } : {}) };
    const result = (await client.query(config as pg.QueryConfig)) as pg.QueryResult;
    return {
      command: result.command,
      rowCount: result.rowCount,
      rows: result.rows,
      fields: result.fields.map((f) => ({ ...f, format: "text" })),
      rowAsArray: arrayMode,
    };
  } catch (err) {
    throw toHttpError(err);
  }
}

async function runTransaction(
  pool: pg.Pool,
  queries: QueryData[],
  o: { isolation?: string; readOnly: boolean; deferrable: boolean; arrayMode: boolean },
) {
  if (o.isolation && !ISOLATION[o.isolation]) {
    throw new HttpError(400, `invalid Neon-Batch-Isolation-Level: ${o.isolation}`);
  }
  const modes = [
    o.isolation ? `ISOLATION LEVEL ${ISOLATION[o.isolation]}` : "",
    o.readOnly ? "READ ONLY" : "",
    o.deferrable ? "DEFERRABLE" : "",
  ].filter(Boolean);
  const client = await connect(pool);
  let failure: unknown;
  try {
    await client.query(`BEGIN ${modes.join(" ")}`).catch((err: unknown) => {
      throw toHttpError(err);
    });
    const results = [];
    for (const q of queries) results.push(await runQuery(client, q, o.arrayMode));
    await client.query("COMMIT").catch((err: unknown) => {
      throw toHttpError(err);
    });
    return results;
  } catch (err) {
    failure = err;
    if (!broken.has(client)) await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    release(client, failure);
  }
}

function toHttpError(err: unknown): HttpError {
  const e = err as Record<string, unknown> & Error;
  if (typeof e.code === "string" && typeof e.severity === "string") {
    const fields: Record<string, unknown> = {};
    for (const key of PG_ERROR_FIELDS) if (e[key] !== undefined) fields[key] = e[key];
    return new HttpError(400, e.message, fields);
  }
  return new HttpError(502, `Couldn't reach Postgres: ${e.message}`, { code: "08006" });
}

function checkLoopback(connectionString: string): void {
  let host: string;
  try {
    host = new URL(connectionString).hostname;
  } catch {
    throw new HttpError(400, "Neon-Connection-String is not a valid URL");
  }
  if (!isLoopback(host)) throw new HttpError(400, `local proxy only forwards to loopback hosts, not ${host}`);
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(":");
  return i < 0 ? [address, "5432"] : [address.slice(0, i), address.slice(i + 1)];
}
