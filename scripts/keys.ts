/** `npm run keys`: prints fresh production secrets (JWT keys, pepper, webhook secret, VAPID keys) for `wrangler secret put`. */
import { generateDevSecrets } from "./local-stack/dev-secrets.ts";

const kid = new Date().toISOString().slice(0, 10);
const secrets = generateDevSecrets(kid);
for (const [name, value] of Object.entries(secrets)) console.log(`${name}=${value}\n`);
// The same command the README gives: `npm run wrangler` runs the pinned wrangler with Node 22 and telemetry off,
// where `npx wrangler` would pick up whatever Node is on PATH.
console.error(
  "Store each with `npm run wrangler -- secret put NAME` (it asks for the value); also set DATABASE_URL, UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN. Keep the private key out of the repository.",
);
