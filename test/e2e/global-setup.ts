/** End-to-end runs: `npm run dev` itself (wrangler dev + the local stack) on spare ports, own database. */
import { mkdirSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { startDevServer } from "../../scripts/local-stack/dev-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    e2eBaseUrl: string;
    e2ePort: number;
    /** scripts/dev.ts itself, whose child is wrangler (the survival test kills that child). */
    e2eDevPid: number;
    e2eDevLog: string;
  }
}

export default async function setup(project: TestProject) {
  mkdirSync("test-artifacts", { recursive: true });
  const logFile = "test-artifacts/e2e-dev-server.log";
  const server = await startDevServer({
    database: process.env.PGDATABASE_E2E ?? "edgechat_e2e",
    logFile,
    // Every test signs up its own users from one address.
    // A small Redis buffer, so scrolling back through history soon reaches Postgres; a throttle that lets
    // a test type quickly.
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: "10000",
      RATE_LIMIT_IP_PER_MINUTE: "100000",
      RATE_LIMIT_USER_PER_MINUTE: "100000",
      RECENT_BUFFER_SIZE: "10",
      THROTTLE_MESSAGES: "20",
    },
  });
  project.provide("e2eBaseUrl", `http://127.0.0.1:${server.port}`);
  project.provide("e2ePort", server.port);
  project.provide("e2eDevPid", server.pid);
  project.provide("e2eDevLog", logFile);
  return () => server.stop();
}
