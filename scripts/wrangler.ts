/** `npm run wrangler -- <args>`: wrangler with metrics, error reports and update checks off. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { offlineWranglerEnv } from "./local-stack/wrangler-env.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Run with this Node (22, from node@22), not whatever `node` the wrangler shim's shebang finds on PATH. */
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const result = spawnSync(process.execPath, [WRANGLER, ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: "inherit",
  env: { ...process.env, ...offlineWranglerEnv() },
});
process.exit(result.status ?? 1);
