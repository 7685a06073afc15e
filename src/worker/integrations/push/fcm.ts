/**
 * Firebase Cloud Messaging, HTTP v1: `POST {FCM_ENDPOINT}/v1/projects/<project>/messages:send` with an
 * OAuth 2.0 access token, obtained by signing a JWT (RS256) with the service account's key and trading it
 * at the account's token_uri (RFC 7523). The access token is kept per isolate until a minute before it
 * expires. One message per device token; collapse by room (android collapse_key and notification tag,
 * apns-collapse-id for iOS apps on FCM), badge = unread total.
 */
import { importPKCS8, SignJWT } from "jose";
import { withDeadline } from "../../../lib/deadline";
import type { FcmConfig, ServiceAccount } from "./config";
import { type MobilePush, PUSH_TTL_SECONDS, type PushOutcome } from "./outcome";

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const accessTokens = new Map<string, { token: string; expiresAt: number }>();

async function accessToken(account: ServiceAccount, timeoutMs: number): Promise<string> {
  const cached = accessTokens.get(account.client_email);
  if (cached && cached.expiresAt - 60_000 > Date.now()) return cached.token;
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({ scope: SCOPE })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: account.private_key_id })
    .setIssuer(account.client_email)
    .setSubject(account.client_email)
    .setAudience(account.token_uri)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(await importPKCS8(account.private_key, "RS256"));
  const res = await withDeadline(timeoutMs, (signal) =>
    fetch(account.token_uri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
      signal,
      redirect: "manual",
    }),
  );
  const json = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
  if (!res.ok || !json.access_token) throw new Error(`FCM token exchange answered ${res.status}`);
  accessTokens.set(account.client_email, {
    token: json.access_token,
    expiresAt: Date.now() + (json.expires_in ?? 3600) * 1000,
  });
  return json.access_token;
}

export function fcmMessage(token: string, push: MobilePush) {
  return {
    message: {
      token,
      notification: { title: push.title, body: push.body },
      // FCM data values must be strings.
      data: {
        notificationId: push.notificationId,
        kind: push.kind,
        roomId: push.roomId,
        lastSeq: String(push.lastSeq),
      },
      android: {
        collapse_key: push.roomId,
        priority: push.urgent ? "HIGH" : "NORMAL",
        ttl: `${PUSH_TTL_SECONDS}s`,
        notification: { tag: push.roomId, notification_count: push.badge },
      },
      apns: {
        headers: { "apns-collapse-id": push.roomId, "apns-priority": push.urgent ? "10" : "5" },
        payload: { aps: { badge: push.badge, "thread-id": push.roomId } },
      },
    },
  };
}

type FcmError = { error?: { status?: string; message?: string; details?: { errorCode?: string }[] } };

export async function sendFcm(
  cfg: FcmConfig,
  token: string,
  push: MobilePush,
  timeoutMs: number,
): Promise<PushOutcome> {
  let res: Response;
  try {
    const bearer = await accessToken(cfg.account, timeoutMs);
    res = await withDeadline(timeoutMs, (signal) =>
      fetch(`${cfg.endpoint}/v1/projects/${encodeURIComponent(cfg.account.project_id)}/messages:send`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify(fcmMessage(token, push)),
        signal,
        redirect: "manual",
      }),
    );
  } catch (err) {
    return { kind: "retry", reason: `FCM call failed: ${(err as Error).message}` };
  }
  if (res.ok) {
    await res.body?.cancel();
    return { kind: "sent", status: res.status };
  }
  const body = (await res.json().catch(() => ({}))) as FcmError;
  const code = body.error?.details?.find((d) => d.errorCode)?.errorCode ?? body.error?.status ?? "";
  const reason = `FCM answered ${res.status} ${code}`.trim();
  // UNREGISTERED: the app was uninstalled or the token expired; SENDER_ID_MISMATCH: another project's
  // token; INVALID_ARGUMENT about the token: it was never a registration token.
  if (res.status === 404 || code === "UNREGISTERED" || code === "SENDER_ID_MISMATCH") {
    return { kind: "invalid-token", status: res.status, reason };
  }
  if (res.status === 400 && /registration token/i.test(body.error?.message ?? "")) {
    return { kind: "invalid-token", status: res.status, reason };
  }
  if (res.status === 401) {
    accessTokens.delete(cfg.account.client_email);
    return { kind: "retry", reason };
  }
  if (res.status === 429 || res.status >= 500) return { kind: "retry", reason };
  return { kind: "permanent", reason };
}
