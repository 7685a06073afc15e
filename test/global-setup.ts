/**
 * Brings up the same local stack `npm run dev` uses (own database, random ports, control endpoints on)
 * and hands its coordinates to the workers as bindings; tears it all down after the run.
 */
import net from "node:net";
import type { TestProject } from "vitest/node";
import { generateDevSecrets } from "../scripts/local-stack/dev-secrets.ts";
import { startLocalStack } from "../scripts/local-stack/index.ts";
import { startUpstashBridge } from "../scripts/local-stack/upstash-bridge.ts";
import { offlineWranglerEnv, requiredSecrets } from "../scripts/local-stack/wrangler-env.ts";
import { APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, startApns } from "./servers/apns.ts";
import { startFcm } from "./servers/fcm.ts";
import { startPushService } from "./servers/push-service.ts";
import { startWebhookReceiver } from "./servers/webhook-receiver.ts";

declare module "vitest" {
  export interface ProvidedContext {
    workerBindings: Record<string, string>;
  }
}

export default async function setup(project: TestProject) {
  Object.assign(process.env, offlineWranglerEnv());
  const stack = await startLocalStack({
    // Each workerd project brings up its own stack; its own database keeps two of them (a plain
    // `vitest run` starts every project) from migrating and truncating one database at once.
    database: `${process.env.PGDATABASE_TEST ?? "edgechat_test"}${project.name === "workers" ? "" : `_${project.name}`}`,
    controlEndpoints: true,
    log: (line) => console.log(`[stack] ${line}`),
  });
  // A port held for the whole run that hangs up on every connection: a Redis and a Postgres that are down,
  // without the risk of a freed port being reused by something else mid-run.
  const sink = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const deadPort = (sink.address() as net.AddressInfo).port;
  const deadRedisBridge = await startUpstashBridge({
    redisUrl: `redis://127.0.0.1:${deadPort}`,
    token: "dead-redis-token",
  });
  const deadPostgresUrl = `postgres://postgres@127.0.0.1:${deadPort}/edgechat_test`;

  const webhooks = await startWebhookReceiver();
  const push = await startPushService();
  // Integrations (issue 27): a local FCM (OAuth token endpoint + HTTP v1) and APNs (HTTP/2, via a relay).
  const fcm = await startFcm();
  const apns = await startApns();

  const secrets: Record<string, string> = { ...generateDevSecrets(), ...stack.bindings };
  // vitest.config.ts silences wrangler's "Missing required secrets" warning on the grounds that this is true.
  const missing = requiredSecrets(process.cwd()).filter((name) => secrets[name] === undefined);
  if (missing.length) throw new Error(`the test setup does not supply required secrets: ${missing.join(", ")}`);
  // Wrangler reads required secrets from process.env when it loads the config for each test file.
  Object.assign(process.env, secrets);
  project.provide("workerBindings", {
    ...secrets,
    TEST_DEAD_REDIS_URL: deadRedisBridge.url,
    TEST_DEAD_REDIS_TOKEN: deadRedisBridge.token,
    TEST_DEAD_DATABASE_URL: deadPostgresUrl,
    // A small ring, so resume tests reach Postgres after a few dozen messages.
    ROOM_RING_SIZE: "20",
    // Likewise for the change log: catch-up tests reach Postgres after a few dozen changes.
    ROOM_CHANGE_LOG_SIZE: "20",
    // Most tests count seqs from 1 after inviting members; the ones about system messages turn them on
    // for their room (sync.test.ts), as a deployment would with SYSTEM_MESSAGES=on (the default).
    SYSTEM_MESSAGES: "off",
    // Every test file shares one client address and one Redis; the limiter's own test sets tight limits.
    RATE_LIMIT_IP_PER_MINUTE: "1000000",
    RATE_LIMIT_USER_PER_MINUTE: "1000000",
    RATE_LIMIT_AUTH_PER_MINUTE: "1000000",
    // Notifications: a deployment webhook every test can read back, loopback receivers allowed, retries
    // without waiting, and a digest window short enough to see it close.
    TEST_WEBHOOK_RECEIVER: webhooks.url,
    TEST_PUSH_SERVICE: push.url,
    NOTIFY_WEBHOOK_URL: `${webhooks.url}/hook/deployment`,
    ALLOW_LOOPBACK_ENDPOINTS: "true",
    NOTIFY_RETRY_BASE_SECONDS: "0",
    NOTIFY_DIGEST_WINDOW_MS: "1500",
    METRICS_ENABLED: "true",
    METRICS_TOKEN: "test-metrics-token",
    ADMIN_EMAILS: "ops-admin@example.test, Second-Admin@Example.test",
    NOTIFY_WEBHOOK_TIMEOUT_MS: "1000",
    // Integrations (issue 27): product-event webhooks retry at once, so dead letters come within a test.
    WEBHOOK_RETRY_BASE_SECONDS: "0",
    FCM_ENDPOINT: fcm.url,
    FCM_SERVICE_ACCOUNT: fcm.serviceAccount,
    APNS_ENDPOINT: apns.relayUrl,
    APNS_KEY: apns.key,
    APNS_KEY_ID,
    APNS_TEAM_ID,
    APNS_TOPIC,
    TEST_FCM: fcm.url,
    TEST_APNS_RELAY: apns.relayUrl,
    TEST_APNS_H2C: apns.h2cUrl,
    // Data exports of accounts with more than 5 messages are built in the background.
    EXPORT_INLINE_MAX_MESSAGES: "5",
    // How many random sequences the model-based sync test runs (a nightly-size run sets more).
    MODEL_RUNS: process.env.MODEL_RUNS ?? "4",
  });

  return async () => {
    await deadRedisBridge.stop();
    await webhooks.stop();
    await push.stop();
    await fcm.stop();
    await apns.stop();
    sink.close();
    await stack.stop();
  };
}
