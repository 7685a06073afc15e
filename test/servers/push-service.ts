/**
 * A local Web Push service for tests: web-push-testing's server, which hands out subscriptions, checks the
 * VAPID signature on each push, decrypts the aes128gcm payload and keeps it for the test to read.
 */

import type { Server } from "node:http";
import { createRequire } from "node:module";
import { freePort } from "../../scripts/local-stack/ports.ts";

const require = createRequire(import.meta.url);

interface PushTestingServer {
  startServer(): void;
  _server: Server;
}

export async function startPushService(): Promise<{ url: string; stop: () => Promise<void> }> {
  const { PushApiModel } = require("web-push-testing/src/PushApiModel.js") as { PushApiModel: new () => unknown };
  const Server = require("web-push-testing/src/server.js") as new (model: unknown, port: number) => PushTestingServer;
  const port = await freePort();
  const model = new PushApiModel() as { notifyUrl: string };
  const server = new Server(model, port);
  // It advertises http://localhost; workerd is sure to reach 127.0.0.1, and the server listens on both.
  model.notifyUrl = `http://127.0.0.1:${port}/notify/`;
  server.startServer();
  await new Promise<void>((resolve, reject) => {
    if (server._server.listening) resolve();
    server._server.once("listening", resolve);
    server._server.once("error", reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server._server.closeAllConnections();
        server._server.close(() => resolve());
      }),
  };
}
