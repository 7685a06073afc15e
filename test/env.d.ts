/** Bindings only the test run adds (see test/global-setup.ts). */
declare namespace Cloudflare {
  interface Env {
    NEON_LOCAL_PROXY: string;
    TEST_DEAD_REDIS_URL: string;
    TEST_DEAD_REDIS_TOKEN: string;
    TEST_DEAD_DATABASE_URL: string;
    MODEL_RUNS: string;
    TEST_WEBHOOK_RECEIVER: string;
    TEST_PUSH_SERVICE: string;
  }
}
