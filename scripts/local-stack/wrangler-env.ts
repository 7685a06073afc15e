import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * Wrangler must not phone home from dev, test or CI runs: no metrics, no error reports, no update check
 * (it has no switch of its own; hiding the banner skips it, and a dead registry makes any other path fail fast).
 */
export function offlineWranglerEnv(): Record<string, string> {
  return {
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_NO_SKILLS_UPDATE_PROMPTS: "true",
    npm_registry: "http://127.0.0.1:9/",
    // miniflare: do not download request.cf data
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
}

/** Names under `secrets.required` in wrangler.jsonc (its comments are whole lines). */
export function requiredSecrets(root: string): string[] {
  const text = readFileSync(path.join(root, "wrangler.jsonc"), "utf8")
    .split("\n")
    .filter((line) => !line.trim().startsWith("//"))
    .join("\n");
  return (JSON.parse(text) as { secrets?: { required?: string[] } }).secrets?.required ?? [];
}
