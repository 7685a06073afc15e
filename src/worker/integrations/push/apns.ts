/**
 * Apple Push Notification service with token-based authentication: `POST <host>/3/device/<token>` over
 * HTTP/2, `authorization: bearer <JWT>` signed ES256 with the team's .p8 key (kid = key id, iss = team id,
 * iat), reused for 50 minutes (Apple refuses tokens older than an hour and too-frequent new ones).
 * Collapse by room (apns-collapse-id, thread-id); badge = unread total. Production Workers negotiate HTTP/2
 * with Apple in fetch; local workerd speaks only HTTP/1.1, so tests reach a local APNs through a relay.
 */
import { importPKCS8, SignJWT } from "jose";
import { withDeadline } from "../../../lib/deadline";
import type { ApnsConfig } from "./config";
import { type MobilePush, PUSH_TTL_SECONDS, type PushOutcome } from "./outcome";

const PROVIDER_TOKEN_MS = 50 * 60 * 1000;
let provider: { jwt: string; keyId: string; issuedAt: number } | null = null;

async function providerToken(cfg: ApnsConfig): Promise<string> {
  if (provider && provider.keyId === cfg.keyId && Date.now() - provider.issuedAt < PROVIDER_TOKEN_MS)
    return provider.jwt;
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: cfg.keyId })
    .setIssuer(cfg.teamId)
    .setIssuedAt()
    .sign(await importPKCS8(cfg.key, "ES256"));
  provider = { jwt, keyId: cfg.keyId, issuedAt: Date.now() };
  return jwt;
}

export function apnsHost(cfg: ApnsConfig, environment: string | null): string {
  if (cfg.endpoint) return cfg.endpoint;
  return environment === "sandbox" ? "https://api.sandbox.push.apple.com" : "https://api.push.apple.com";
}

export function apnsPayload(push: MobilePush) {
  return {
    aps: {
      alert: { title: push.title, body: push.body },
      badge: push.badge,
      sound: "default",
      "thread-id": push.roomId,
    },
    notificationId: push.notificationId,
    kind: push.kind,
    roomId: push.roomId,
    lastSeq: push.lastSeq,
  };
}

/** Apple's reasons that mean the token will never work for this app again. */
const DEAD_TOKEN = new Set(["BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic", "ExpiredToken"]);

export async function sendApns(
  cfg: ApnsConfig,
  device: { token: string; apnsEnvironment: string | null },
  push: MobilePush,
  timeoutMs: number,
): Promise<PushOutcome> {
  let res: Response;
  try {
    const jwt = await providerToken(cfg);
    res = await withDeadline(timeoutMs, (signal) =>
      fetch(`${apnsHost(cfg, device.apnsEnvironment)}/3/device/${device.token}`, {
        method: "POST",
        headers: {
          authorization: `bearer ${jwt}`,
          "apns-topic": cfg.topic,
          "apns-push-type": "alert",
          "apns-priority": push.urgent ? "10" : "5",
          "apns-collapse-id": push.roomId,
          "apns-expiration": String(Math.floor(Date.now() / 1000) + PUSH_TTL_SECONDS),
          "content-type": "application/json",
        },
        body: JSON.stringify(apnsPayload(push)),
        signal,
        redirect: "manual",
      }),
    );
  } catch (err) {
    return { kind: "retry", reason: `APNs call failed: ${(err as Error).message}` };
  }
  if (res.ok) {
    await res.body?.cancel();
    return { kind: "sent", status: res.status };
  }
  const why = ((await res.json().catch(() => ({}))) as { reason?: string }).reason ?? "";
  const reason = `APNs answered ${res.status} ${why}`.trim();
  if (res.status === 410 || DEAD_TOKEN.has(why)) return { kind: "invalid-token", status: res.status, reason };
  if (why === "ExpiredProviderToken" || why === "InvalidProviderToken") {
    provider = null;
    return { kind: "retry", reason };
  }
  if (res.status === 429 || res.status >= 500) return { kind: "retry", reason };
  return { kind: "permanent", reason };
}
