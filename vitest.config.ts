import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Per-request info logs drown the report; warnings and errors still show.
    onConsoleLog: (log) => !log.startsWith('{"level":"info"'),
    // Used by `npm run coverage` (`--coverage`). Istanbul, because V8 coverage needs node:inspector,
    // which workerd does not have; the instrumented source runs inside the pool as it does in `npm test`.
    coverage: {
      provider: "istanbul",
      include: ["src/**/*.ts"],
      // Generated from wrangler.jsonc; web/, bench/ and scripts/ are outside `include`.
      exclude: ["src/worker/env.d.ts"],
      reporter: ["text-summary", "json-summary"],
      reportsDirectory: "coverage",
      // The figures still print when a test fails, so a red CI run shows them too.
      reportOnFailure: true,
      // The floor: about two points under the 2026-12-04 run (statements 90.8, branches 82.9, functions
      // 83.4, lines 93.3 %), so a change that drops coverage fails `npm run coverage` and CI.
      thresholds: { statements: 89, branches: 81, functions: 81, lines: 91 },
    },
    projects: [
      {
        // Tests that run inside workerd, against the real local stack brought up by the global setup.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.jsonc" },
            miniflare: {
              bindings: inject("workerBindings"),
              // Deliver queued jobs to the consumer at once instead of after wrangler's batch timeout.
              // These replace wrangler.jsonc's consumer settings, so retries and the DLQ are restated here.
              queueConsumers: {
                "edgechat-notifications": {
                  maxBatchTimeout: 0.05,
                  maxRetries: 8,
                  deadLetterQueue: "edgechat-notifications-dlq",
                },
                "edgechat-notifications-dlq": { maxBatchTimeout: 0.05, maxRetries: 20 },
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/**/*.test.ts"],
          exclude: ["test/node/**", "test/e2e/**"],
          globalSetup: ["./test/global-setup.ts"],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        // Dev tooling that only exists in Node (stack resolution, embedded Postgres, redis-server spawn).
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
