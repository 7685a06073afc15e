import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { ReceivedCall } from "../servers/webhook-receiver";

export const hookUrl = (name: string) => `${env.TEST_WEBHOOK_RECEIVER}/hook/${name}`;

export async function receiverCalls(name: string): Promise<ReceivedCall[]> {
  return (await fetch(`${env.TEST_WEBHOOK_RECEIVER}/__calls/${name}`)).json();
}

export async function failNext(name: string, fail: number, status = 503, delayMs = 0): Promise<void> {
  await fetch(`${env.TEST_WEBHOOK_RECEIVER}/__control/${name}`, {
    method: "POST",
    body: JSON.stringify({ fail, status, delayMs }),
  });
}

/** The deployment webhook's calls about one user (every test file shares that receiver path). */
export async function deploymentCallsFor(userId: string): Promise<ReceivedCall[]> {
  return (await receiverCalls("deployment")).filter(
    (c) => (JSON.parse(c.body) as { notification: { userId: string } }).notification.userId === userId,
  );
}

/**
 * Verifies `Edgechat-Signature` the way the README tells receivers to, written independently of the
 * signing code: HMAC-SHA256 over `${t}.${rawBody}`, hex, compared in full, timestamp not stale.
 */
export async function signatureValid(call: ReceivedCall, secret: string, maxAgeSeconds = 300): Promise<boolean> {
  const header = call.headers["edgechat-signature"] ?? "";
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > maxAgeSeconds || !parts.v1) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const mac = Uint8Array.from(parts.v1.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  return crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode(`${t}.${call.body}`));
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, timeout = 10_000): Promise<T> {
  let last: T | null | undefined | false = null;
  await vi.waitUntil(
    async () => {
      last = await probe();
      return Boolean(last);
    },
    { timeout, interval: 50 },
  );
  return last as T;
}
