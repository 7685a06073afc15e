import { defineConfig } from "drizzle-kit";

// Only `generate` is used: it diffs src/db/schema.ts against migrations/ and needs no database.
// Migrations are applied by the dev and test commands (scripts/local-stack/migrate.ts).
export default defineConfig({
  dialect: "postgresql",
  schema: [
    "./src/db/schema.ts",
    "./src/db/notification-schema.ts",
    "./src/db/attachment-schema.ts",
    "./src/db/moderation-schema.ts",
    "./src/db/integration-schema.ts",
  ],
  out: "./migrations",
});
