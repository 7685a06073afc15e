/**
 * Web Push (RFC 8030 delivery, RFC 8291 aes128gcm payload encryption, RFC 8292 VAPID) through
 * @block65/webcrypto-web-push, which uses only WebCrypto and so runs on Workers.
 */
import { buildPushPayload } from "@block65/webcrypto-web-push";
import { withDeadline } from "../../lib/deadline";
import { isLoopback } from "../../lib/endpoint-policy";
import type { VapidConfig } from "./config";

export interface StoredSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null;
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/").replace(/=+$/, "");
  try {
    return Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Checked at subscribe time, so a bad key is a 400 then rather than a failed push later. */
export async function subscriptionKeyProblem(keys: { p256dh: string; auth: string }): Promise<string | null> {
  const auth = fromBase64Url(keys.auth);
  if (auth?.length !== 16) return "keys.auth must be 16 bytes, base64url";
  const point = fromBase64Url(keys.p256dh);
  if (point?.length !== 65 || point[0] !== 4) {
    return "keys.p256dh must be an uncompressed P-256 point (65 bytes), base64url";
  }
  try {
    await crypto.subtle.importKey("raw", point, { name: "ECDH", namedCurve: "P-256" }, false, []);
  } catch {
    return "keys.p256dh is not a point on P-256";
  }
  return null;
}

export async function sendPush(
  sub: StoredSubscription,
  vapid: VapidConfig,
  data: Record<string, string | number | boolean | null>,
  opts: { urgency: "normal" | "high"; topic: string; timeoutMs: number },
): Promise<Response> {
  const endpoint = new URL(sub.endpoint);
  // The library insists on https (RFC 8030). A loopback push service (dev and tests only, allowed at
  // subscribe time) speaks http: sign for the https origin of the same host and send to the real URL.
  const forLibrary =
    endpoint.protocol === "http:" && isLoopback(endpoint)
      ? `https://${endpoint.host}${endpoint.pathname}`
      : sub.endpoint;
  const payload = await buildPushPayload(
    { data, options: { ttl: 24 * 60 * 60, urgency: opts.urgency, topic: opts.topic } },
    { endpoint: forLibrary, expirationTime: null, keys: { p256dh: sub.p256dh, auth: sub.auth } },
    vapid,
  );
  return withDeadline(opts.timeoutMs, (signal) =>
    // No redirects: a push service never needs one, and following it could send the payload elsewhere.
    fetch(sub.endpoint, { ...payload, signal, redirect: "manual" }).then(async (res) => {
      await res.body?.cancel();
      return res;
    }),
  );
}
