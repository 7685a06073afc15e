import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Wrangler reads wrangler.jsonc once per test file and warns that the `secrets.required` names are missing
// from .dev.vars. In tests the global setup hands every one of them to the worker as a binding (and fails if
// one is missing), so that warning is noise; the check itself stays on for `wrangler dev` and deploys.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === "string" && args[0].includes("Missing required secrets:")) return;
  warn(...args);
};

/** A project whose tests run inside workerd against the local stack (see test/global-setup.ts). */
function workerd(name: string, include: string[], exclude: string[]) {
  return {
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
      name,
      include,
      exclude,
      globalSetup: ["./test/global-setup.ts"],
      testTimeout: 20_000,
      hookTimeout: 30_000,
    },
  };
}

export default defineConfig({
  test: {
    // Per-request info logs drown the report; warnings and errors still show.
    onConsoleLog: (log) => !log.startsWith('{"level":"info"'),
    // Objects outlive the test file that opened their sockets. The pool's report of a call still in flight
    // when a file's runtime is torn down (a room's late log line, an inbox's last RPC after its sockets
    // closed) comes after every test of the file has finished, so it cannot change a result. Anything
    // else unhandled still fails the run.
    onUnhandledError: (error) =>
      !(
        error.name === "EnvironmentTeardownError" &&
        /while "(onUserConsoleLog|resolve)" was pending/.test(error.message)
      ),
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
      thresholds: { statements: 88, branches: 81, functions: 81, lines: 91 },
    },
    projects: [
      // Tests that run inside workerd, against the real local stack brought up by the global setup.
      workerd("workers", ["test/**/*.test.ts"], ["test/node/**", "test/e2e/**", "test/security/**"]),
      // The adversarial suite (npm run test:security): same runtime and stack, its own project so CI runs it
      // as a step of its own and `npm test` does not run it a second time.
      workerd("security", ["test/security/**/*.test.ts"], []),
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
