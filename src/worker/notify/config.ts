import type { Bindings } from "../types";

export interface VapidConfig {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface NotifyConfig {
  digestWindowMs: number;
  /** The deployment-wide webhook, or null when none is configured. */
  webhookUrl: string | null;
  webhookSecret: string;
  webhookTimeoutMs: number;
  retryBaseSeconds: number;
  allowLoopback: boolean;
  /** Null when the VAPID keys are missing: push is then off and subscribing says so. */
  vapid: VapidConfig | null;
}

function wholeNumber(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return text !== undefined && text !== "" && Number.isInteger(n) && n >= 0 ? n : fallback;
}

export function notifyConfig(env: Bindings): NotifyConfig {
  const vapidReady = Boolean(env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY && env.VAPID_SUBJECT);
  return {
    digestWindowMs: wholeNumber(env.NOTIFY_DIGEST_WINDOW_MS, 60_000),
    webhookUrl: env.NOTIFY_WEBHOOK_URL ? env.NOTIFY_WEBHOOK_URL : null,
    webhookSecret: env.NOTIFY_WEBHOOK_SECRET ?? "",
    webhookTimeoutMs: Math.max(100, wholeNumber(env.NOTIFY_WEBHOOK_TIMEOUT_MS, 5000)),
    retryBaseSeconds: wholeNumber(env.NOTIFY_RETRY_BASE_SECONDS, 2),
    allowLoopback: env.ALLOW_LOOPBACK_ENDPOINTS === "true",
    vapid: vapidReady
      ? { subject: env.VAPID_SUBJECT, publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY }
      : null,
  };
}
