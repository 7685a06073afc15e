import { defineConfig } from "vitest/config";

/** `npm run test:e2e`: clients in Node against `npm run dev` (real wrangler dev, Postgres, Redis). */
export default defineConfig({
  test: {
    name: "e2e",
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/e2e/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
