/**
 * Signed webhook calls (the signature: src/lib/webhook-signature.ts). `Edgechat-Delivery` is stable
 * across retries of one delivery, so a receiver can drop the rare duplicate.
 */
import { withDeadline } from "../../lib/deadline";
import { signatureHeader } from "../../lib/webhook-signature";

// The signing code lives in src/lib so the room's moderation check signs the same way.
export { signatureHeader, signPayload } from "../../lib/webhook-signature";

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
