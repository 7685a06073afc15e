/**
 * The signature of every webhook edgechat sends (notifications and the moderation check):
 * `Edgechat-Signature: t=<unix seconds>,v1=<hex>` where hex = HMAC-SHA256(secret, `${t}.${body}`). A
 * receiver recomputes it over the raw body, compares in constant time, and refuses timestamps older than
 * a few minutes (replays). See the README, "Webhook signature".
 */

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
