/**
 * A local stand-in for Upstash's Redis REST API, so `@upstash/redis` runs unchanged against a plain Redis:
 * `POST /` with one command, `POST /pipeline` and `POST /multi-exec` with several, path-style commands
 * (`GET /get/key`) for curl, bearer-token auth, and the base64 reply encoding the client asks for by default.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import Redis from "ioredis";
import { readJsonBody, sendJson } from "./http-util.ts";
import { closeServer, listen } from "./ports.ts";

const MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * Commands that block, or hold or change the one shared connection; Upstash's REST API refuses them too.
 * Letting one through would stall or break every other caller of the bridge.
 */
const REFUSED = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "MONITOR",
  "QUIT",
  "SELECT",
  "HELLO",
  "RESET",
  "CLIENT",
  "SHUTDOWN",
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BLMOVE",
  "BLMPOP",
  "BZPOPMIN",
  "BZPOPMAX",
  "BZMPOP",
  "WAIT",
  "WAITAOF",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
]);

function refused(command: Command): boolean {
  const name = command[0].toUpperCase();
  if (REFUSED.has(name)) return true;
  return (name === "XREAD" || name === "XREADGROUP") && command.some((a) => String(a).toUpperCase() === "BLOCK");
}

type Command = [string, ...(string | number | boolean)[]];
type Reply = { result: unknown } | { error: string };

export interface UpstashBridge {
  port: number;
  url: string;
  token: string;
  stop(): Promise<void>;
}

export interface UpstashBridgeOptions {
  redisUrl: string;
  token: string;
  port?: number;
}

class BridgeError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function startUpstashBridge(opts: UpstashBridgeOptions): Promise<UpstashBridge> {
  // Fail fast instead of queueing while Redis is down: callers must see the outage, not hang on it.
  const redis = new Redis(opts.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  redis.on("error", () => {});
  await redis.connect().catch(() => {});
  const expected = Buffer.from(`Bearer ${opts.token}`);

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof BridgeError ? err.status : 500;
      sendJson(res, status, { error: (err as Error).message });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = Buffer.from(req.headers.authorization ?? "");
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
      throw new BridgeError(401, "Unauthorized");
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const encode = (value: unknown) => encodeReply(value, base64, true);
    const url = new URL(req.url ?? "/", "http://localhost");

    if (url.pathname === "/pipeline" || url.pathname === "/multi-exec") {
      if (req.method !== "POST") throw new BridgeError(405, "ERR only POST is supported");
      const commands = parseCommands(await body(req));
      const replies = url.pathname === "/pipeline" ? await pipeline(redis, commands) : await multiExec(redis, commands);
      return sendJson(
        res,
        200,
        replies.map((r) => ("error" in r ? r : { result: encode(r.result) })),
      );
    }
    const command = url.pathname === "/" ? parseCommand(await body(req)) : (pathCommand(url.pathname) as Command);
    const reply = await run(redis, command);
    if ("error" in reply) throw new BridgeError(400, reply.error);
    sendJson(res, 200, { result: encode(reply.result) });
  }

  const port = await listen(server, opts.port ?? 0, "Upstash-compatible REST bridge", "UPSTASH_BRIDGE_PORT");
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    token: opts.token,
    stop: async () => {
      await closeServer(server);
      redis.disconnect();
    },
  };
}

async function body(req: IncomingMessage): Promise<unknown> {
  return readJsonBody(req, MAX_BODY_BYTES).catch((err: Error) => {
    throw new BridgeError(400, `ERR ${err.message}`);
  });
}

function parseCommand(value: unknown): Command {
  if (!Array.isArray(value) || value.length === 0 || typeof value[0] !== "string") {
    throw new BridgeError(400, 'ERR failed to parse command: expected a JSON array like ["SET", "key", "value"]');
  }
  for (const arg of value) {
    if (!["string", "number", "boolean"].includes(typeof arg)) {
      throw new BridgeError(400, "ERR failed to parse command: arguments must be strings, numbers or booleans");
    }
  }
  return value as Command;
}

function parseCommands(value: unknown): Command[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BridgeError(400, "ERR failed to parse pipeline request: expected a non-empty array of commands");
  }
  return value.map(parseCommand);
}

function pathCommand(pathname: string): string[] {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) throw new BridgeError(400, "ERR empty command");
  return parts;
}

/** Upper-case names: ioredis reshapes replies of some lower-case names (hgetall into an object). */
function args(command: Command): [string, string[]] {
  const [name, ...rest] = command;
  return [name.toUpperCase(), rest.map(String)];
}

async function run(redis: Redis, command: Command): Promise<Reply> {
  const [name, rest] = args(command);
  if (refused(command)) return { error: `ERR Command is not allowed: ${name}` };
  try {
    return { result: await redis.callBuffer(name, ...rest) };
  } catch (err) {
    return { error: redisError(err) };
  }
}

async function pipeline(redis: Redis, commands: Command[]): Promise<Reply[]> {
  return Promise.all(commands.map((c) => run(redis, c)));
}

async function multiExec(redis: Redis, commands: Command[]): Promise<Reply[]> {
  const blocked = commands.find(refused);
  if (blocked) throw new BridgeError(400, `ERR Command is not allowed: ${blocked[0]}`);
  const tx = redis.multi();
  for (const c of commands) {
    const [name, rest] = args(c);
    tx.callBuffer(name, ...rest);
  }
  let results: [Error | null, unknown][] | null;
  try {
    results = await tx.exec();
  } catch (err) {
    throw new BridgeError(400, redisError(err));
  }
  if (!results) throw new BridgeError(400, "ERR transaction aborted");
  return results.map(([err, result]) => (err ? { error: redisError(err) } : { result }));
}

function redisError(err: unknown): string {
  const message = (err as Error).message ?? String(err);
  // ioredis reports its own connection state in prose; Upstash callers expect Redis-style "ERR …" text.
  return /^[A-Z]+ /.test(message) ? message : `ERR ${message}`;
}

/**
 * Upstash encodes every string reply as base64 of its bytes. Only a top-level OK stays plain: that is
 * the one place the client looks for it (an OK inside an array is decoded like any other string).
 */
function encodeReply(value: unknown, base64: boolean, top = false): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  // An error nested in a script's reply table travels as its message text.
  if (value instanceof Error) return encodeReply(Buffer.from(value.message), base64);
  if (Buffer.isBuffer(value)) {
    if (!base64) return value.toString("utf8");
    return top && value.equals(OK) ? "OK" : value.toString("base64");
  }
  if (Array.isArray(value)) return value.map((v) => encodeReply(v, base64));
  if (typeof value === "string")
    return base64 && !(top && value === "OK") ? Buffer.from(value).toString("base64") : value;
  return value;
}
const OK = Buffer.from("OK");
