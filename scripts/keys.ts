/** `npm run keys`: prints fresh production secrets (JWT keys, pepper, webhook secret, VAPID keys) for `wrangler secret put`. */
import { generateDevSecrets } from "./local-stack/dev-secrets.ts";

const kid = new Date().toISOString().slice(0, 10);
const secrets = generateDevSecrets(kid);
for (const [name, value] of Object.entries(secrets)) console.log(`${name}=${value}\n`);
console.error("Store each with `npx wrangler secret put NAME`; keep the private key out of the repository.");
