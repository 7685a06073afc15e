import { wholeSetting } from "../../lib/config";
import { type MobileConfig, mobileConfig } from "../integrations/push/config";
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
  /** Integrations (issue 27): FCM and APNs credentials, each null when not configured. */
  mobile: MobileConfig;
}

export function notifyConfig(env: Bindings): NotifyConfig {
  const vapidReady = Boolean(env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY && env.VAPID_SUBJECT);
  return {
    digestWindowMs: wholeSetting(env, "NOTIFY_DIGEST_WINDOW_MS"),
    webhookUrl: env.NOTIFY_WEBHOOK_URL ? env.NOTIFY_WEBHOOK_URL : null,
    webhookSecret: env.NOTIFY_WEBHOOK_SECRET ?? "",
    webhookTimeoutMs: Math.max(100, wholeSetting(env, "NOTIFY_WEBHOOK_TIMEOUT_MS")),
    retryBaseSeconds: wholeSetting(env, "NOTIFY_RETRY_BASE_SECONDS"),
    allowLoopback: env.ALLOW_LOOPBACK_ENDPOINTS === "true",
    vapid: vapidReady
      ? { subject: env.VAPID_SUBJECT, publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY }
      : null,
    mobile: mobileConfig(env),
  };
}
