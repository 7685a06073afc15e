/** `npm run db:migrate`: applies migrations/ to DATABASE_URL (for Neon before a deploy; dev and tests do it themselves). */
import { applyMigrations } from "./local-stack/migrate.ts";
import { redact } from "./local-stack/postgres.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("Set DATABASE_URL to the database to migrate, e.g. DATABASE_URL=postgres://… npm run db:migrate");
  process.exit(1);
}
try {
  await applyMigrations(url);
  console.log(`migrations applied to ${redact(url)}`);
} catch (err) {
  console.error(`migration failed on ${redact(url)}: ${(err as Error).message}`);
  process.exit(1);
}
