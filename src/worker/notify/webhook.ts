/**
 * Signed webhook calls. The signature header is `Edgechat-Signature: t=<unix seconds>,v1=<hex>` where
 * hex = HMAC-SHA256(secret, `${t}.${body}`). A receiver recomputes it over the raw body, compares in
 * constant time, and refuses timestamps older than a few minutes (replays). `Edgechat-Delivery` is stable
 * across retries of one delivery, so a receiver can drop the rare duplicate.
 */
import { withDeadline } from "../../lib/deadline";

const encoder = new TextEncoder();

export async function signPayload(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function signatureHeader(secret: string, body: string, now = Date.now()): Promise<string> {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${await signPayload(secret, t, body)}`;
}

export async function postWebhook(
  url: string,
  secret: string,
  deliveryId: string,
  payload: unknown,
  timeoutMs: number,
): Promise<Response> {
  const body = JSON.stringify(payload);
  const headers = {
    "content-type": "application/json",
    "user-agent": "edgechat-webhooks/1",
    "edgechat-delivery": deliveryId,
    "edgechat-signature": await signatureHeader(secret, body),
  };
  return withDeadline(timeoutMs, (signal) =>
    fetch(url, { method: "POST", headers, body, signal, redirect: "manual" }).then(async (res) => {
      // Drain the body so the connection is released; the receiver's answer is not used.
      await res.body?.cancel();
      return res;
    }),
  );
}
