/** `npm run inspect -- room <id> | user <email> | stats | dead-letters`: see scripts/inspector/inspect.ts. */
import { InspectorError, runInspector, USAGE } from "./inspector/inspect.ts";

async function token(baseUrl: string): Promise<string> {
  if (process.env.EDGECHAT_TOKEN) return process.env.EDGECHAT_TOKEN;
  const { EDGECHAT_EMAIL: email, EDGECHAT_PASSWORD: password } = process.env;
  if (!email || !password)
    throw new InspectorError(`set EDGECHAT_TOKEN, or EDGECHAT_EMAIL and EDGECHAT_PASSWORD\n\n${USAGE}`);
  const res = await fetch(new URL("/api/auth/login", baseUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new InspectorError(`sign-in failed: HTTP ${res.status}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.includes("--help")) {
    console.log(USAGE);
    return;
  }
  const baseUrl = process.env.EDGECHAT_URL ?? "http://127.0.0.1:8787";
  console.log(await runInspector(args, { baseUrl, token: await token(baseUrl), fetch, json: args.includes("--json") }));
}

main().catch((err: Error) => {
  console.error(err instanceof InspectorError ? err.message : `inspect failed: ${err.message}`);
  process.exit(1);
});
