import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { app } from "../../src/worker/app";

export type Redis = "up" | "down";

/** The worker's bindings with Redis pointed at a bridge whose Redis is down (test/global-setup.ts). */
export function bindings(redis: Redis): Env {
  return redis === "up"
    ? env
    : { ...env, UPSTASH_REDIS_REST_URL: env.TEST_DEAD_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: env.TEST_DEAD_REDIS_TOKEN };
}

/**
 * One request to the worker with Redis up or down. Only this request sees the outage: the room objects it
 * reaches keep their own (working) bindings, which is what the worker's own checks must not rely on.
 */
export async function callWorker(
  redis: Redis,
  method: string,
  path: string,
  o: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://edgechat.test${path}`, {
      method,
      headers,
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    }),
    bindings(redis),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = res.webSocket ? "" : await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading JSON bodies
  const json = (text ? JSON.parse(text) : null) as any;
  res.webSocket?.accept();
  res.webSocket?.close(1000, "test done");
  return { res, status: res.status, json };
}
