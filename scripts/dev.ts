/**
 * `npm run dev`: brings up real Postgres and Redis behind the Neon and Upstash bridges, then serves the
 * worker with `wrangler dev`. Ctrl-C stops everything this script started (and nothing else).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDevVars, readDevVars } from "./local-stack/dev-secrets.ts";
import { startLocalStack } from "./local-stack/index.ts";
import { isPortOpen, PortInUseError } from "./local-stack/ports.ts";
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
  // Own process group: wrangler starts workerd, and the whole group must go when we stop.
  const wrangler = spawn(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    stdio: "inherit",
    detached: true,
    // The env file is authoritative for secrets; wrangler would otherwise let the shell's values win.
    env: { ...withoutKeys(process.env, REQUIRED_SECRETS), ...offlineWranglerEnv() },
  });
  log(`worker      http://127.0.0.1:${PORT}  (try: curl http://127.0.0.1:${PORT}/health)`);

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log("stopping…");
    await stopGroup(wrangler);
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
  process.on("exit", () => signalGroup(wrangler.pid as number, "SIGKILL"));
  wrangler.on("exit", (code) => void shutdown(code ?? 1));
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

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const force = setTimeout(() => signalGroup(pid, "SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      // workerd may outlive wrangler by a moment; make sure nothing of the group is left.
      signalGroup(pid, "SIGKILL");
      resolve();
    });
    signalGroup(pid, "SIGTERM");
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

main().catch((err: Error) => {
  console.error(`[dev] ${err instanceof PortInUseError ? err.message : (err.stack ?? err.message)}`);
  process.exit(1);
});
