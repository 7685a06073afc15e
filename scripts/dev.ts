/**
 * `npm run dev`: brings up real Postgres and Redis behind the Neon and Upstash bridges, then serves the
 * worker with `wrangler dev`, restarting wrangler if it dies (the rest stays up). Ctrl-C stops everything
 * this script started (and nothing else).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { ensureDevVars, readDevVars } from "./local-stack/dev-secrets.ts";
import { startLocalStack } from "./local-stack/index.ts";
import { isPortOpen, PortInUseError } from "./local-stack/ports.ts";
import { signalGroup, supervise } from "./local-stack/supervisor.ts";
import { offlineWranglerEnv } from "./local-stack/wrangler-env.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Run with this Node (22, from node@22), not whatever `node` the wrangler shim's shebang finds on PATH. */
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const PORT = Number(process.env.PORT ?? 8787);
const NEON_PROXY_PORT = Number(process.env.NEON_PROXY_PORT ?? 8790);
const UPSTASH_BRIDGE_PORT = Number(process.env.UPSTASH_BRIDGE_PORT ?? 8791);

const log = (line: string) => console.log(`[dev] ${line}`);
/** Secret names the worker declares in wrangler.jsonc (secrets.required). */
const REQUIRED_SECRETS = [
  "DATABASE_URL",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "JWT_SIGNING_KEY",
  "JWT_VERIFY_KEYS",
  "PASSWORD_PEPPER",
  "NOTIFY_WEBHOOK_SECRET",
  "VAPID_PUBLIC_KEY",
  "VAPID_PRIVATE_KEY",
];

async function main(): Promise<void> {
  if (await isPortOpen("127.0.0.1", PORT)) throw new PortInUseError(PORT, "worker (wrangler dev)", "PORT");
  if (ensureDevVars(path.join(ROOT, ".dev.vars"))) log("wrote generated dev-only keys into .dev.vars");

  const stack = await startLocalStack({
    database: process.env.PGDATABASE_DEV ?? "edgechat_dev",
    neonProxyPort: NEON_PROXY_PORT,
    upstashBridgePort: UPSTASH_BRIDGE_PORT,
    log,
  });
  for (const line of stack.summary) log(line);

  const { NEON_LOCAL_PROXY, ...connection } = stack.bindings;
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(PORT),
    "--persist-to",
    process.env.DEV_PERSIST_DIR ?? path.join(ROOT, ".local", "wrangler"),
    "--show-interactive-dev-session=false",
    "--env-file",
    writeDevEnvFile(connection),
    // Not a declared secret or var (production never has it), so it is passed as a var.
    "--var",
    `NEON_LOCAL_PROXY:${NEON_LOCAL_PROXY}`,
    // Local webhook receivers and push test servers listen on http://localhost.
    "--var",
    "ALLOW_LOOPBACK_ENDPOINTS:true",
    // Whoever registers this address locally is an admin (inspector, /api/admin, /metrics).
    "--var",
    `ADMIN_EMAILS:${process.env.ADMIN_EMAILS ?? "admin@edgechat.local"}`,
    "--var",
    "METRICS_ENABLED:true",
    // The web app is served from this port, so its own origin may open WebSockets whatever PORT is.
    "--var",
    `ALLOWED_ORIGINS:${process.env.ALLOWED_ORIGINS ?? `http://localhost:${PORT},http://127.0.0.1:${PORT}`}`,
    // Any var from wrangler.jsonc set in our environment overrides it (tests and benchmarks tune limits).
    ...declaredVars()
      .filter((name) => name !== "ALLOWED_ORIGINS")
      .flatMap((name) => (process.env[name] ? ["--var", `${name}:${process.env[name]}`] : [])),
  ];
  const env = { ...withoutKeys(process.env, REQUIRED_SECRETS), ...offlineWranglerEnv() };
  // Piped rather than inherited so the bindings table can be shown once (see bindingsOnce); colours kept.
  if (process.stdout.isTTY && env.FORCE_COLOR === undefined) env.FORCE_COLOR = "1";
  const quiet = bindingsOnce();
  const wrangler = supervise({
    name: "wrangler",
    log,
    // Own process group: wrangler starts workerd, and the whole group must go when it dies or we stop.
    start: () => {
      const child = spawn(process.execPath, [WRANGLER, ...args], {
        cwd: ROOT,
        stdio: ["inherit", "pipe", "pipe"],
        detached: true,
        // The env file is authoritative for secrets; wrangler would otherwise let the shell's values win.
        env,
      });
      pipeLines(child.stdout, process.stdout, quiet);
      pipeLines(child.stderr, process.stderr, (line) => line);
      return child;
    },
    onGiveUp: (code) => void shutdown(code || 1),
  });
  log(`worker      http://127.0.0.1:${PORT}  (try: curl http://127.0.0.1:${PORT}/health)`);

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log("stopping…");
    await wrangler.stop();
    await stack.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => (stopping ? process.exit(130) : void shutdown(0))); // a second Ctrl-C does not wait
  process.on("SIGTERM", () => void shutdown(0));
  process.on("uncaughtException", (err) => {
    console.error(`[dev] ${err.stack ?? err.message}`);
    void shutdown(1);
  });
  // Whatever ends this process, wrangler and workerd (their own process group) must not outlive it.
  process.on("exit", () => {
    const pid = wrangler.current().pid;
    if (pid) signalGroup(pid, "SIGKILL");
  });
}

/**
 * Wrangler prints its bindings table at start and again on every reload and dev-registry change (any other
 * `wrangler dev` on the machine starting or stopping); the first one is all anybody reads.
 */
function bindingsOnce(): (line: string) => string | null {
  let shown = false;
  let skipping = false;
  return (line) => {
    const plain = stripVTControlCharacters(line);
    if (plain.startsWith("Your Worker has access to the following bindings:")) {
      skipping = shown;
      shown = true;
    }
    if (!skipping) return line;
    if (plain.trim() === "") skipping = false;
    return null;
  };
}

function pipeLines(from: Readable | null, to: NodeJS.WriteStream, filter: (line: string) => string | null): void {
  if (!from) return;
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    const out = filter(line);
    if (out !== null) to.write(`${out}\n`);
  });
}

/**
 * The worker's secrets for this run: .dev.vars, overridden by the same names in our environment (so a
 * caller such as the benchmark can supply its own keys), plus the local stack's connection settings.
 * Written to a private file under .local/ because wrangler reads either .dev.vars or env files, not both.
 */
function writeDevEnvFile(connection: Record<string, string>): string {
  const fromEnv = Object.fromEntries(
    REQUIRED_SECRETS.filter((k) => process.env[k]).map((k) => [k, process.env[k] as string]),
  );
  const vars = { ...readDevVars(path.join(ROOT, ".dev.vars")), ...fromEnv, ...connection };
  const file = path.join(ROOT, ".local", "dev.env");
  mkdirSync(path.dirname(file), { recursive: true });
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}='${v.replaceAll("'", "")}'`)
    .join("\n");
  writeFileSync(file, `${text}\n`, { mode: 0o600 });
  return file;
}

/** Names under "vars" in wrangler.jsonc (its comments are whole lines). */
function declaredVars(): string[] {
  const text = readFileSync(path.join(ROOT, "wrangler.jsonc"), "utf8")
    .split("\n")
    .filter((line) => !line.trim().startsWith("//"))
    .join("\n");
  return Object.keys((JSON.parse(text) as { vars?: Record<string, string> }).vars ?? {});
}

function withoutKeys(env: NodeJS.ProcessEnv, keys: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));
}

main().catch((err: Error) => {
  console.error(`[dev] ${err instanceof PortInUseError ? err.message : (err.stack ?? err.message)}`);
  process.exit(1);
});
