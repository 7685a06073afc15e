/**
 * Native push credentials (issue 27), from the deployment's secrets and vars. Either half may be missing:
 * that platform is then off (devices of it may register; nothing is sent to them).
 * - FCM: FCM_SERVICE_ACCOUNT (secret) is the service account's JSON key file as Google hands it out; its
 *   token_uri is where the worker trades a signed JWT for an access token. FCM_ENDPOINT: the FCM host.
 * - APNs: APNS_KEY (secret) is the .p8 signing key; APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC (bundle id);
 *   APNS_ENDPOINT overrides the host (empty: Apple's production or sandbox host, by device).
 */
import type { Bindings } from "../../types";

export interface ServiceAccount {
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri: string;
}

export interface FcmConfig {
  endpoint: string;
  account: ServiceAccount;
}

export interface ApnsConfig {
  /** null: api.push.apple.com, or api.sandbox.push.apple.com for sandbox devices. */
  endpoint: string | null;
  key: string;
  keyId: string;
  teamId: string;
  topic: string;
}

export interface MobileConfig {
  fcm: FcmConfig | null;
  apns: ApnsConfig | null;
}

type PushSecrets = { FCM_SERVICE_ACCOUNT?: string; APNS_KEY?: string };

function serviceAccount(text: string | undefined): ServiceAccount | null {
  if (!text) return null;
  try {
    const sa = JSON.parse(text) as Partial<ServiceAccount>;
    if (sa.project_id && sa.private_key_id && sa.private_key && sa.client_email && sa.token_uri) {
      return sa as ServiceAccount;
    }
  } catch {
    // not JSON: FCM stays off
  }
  return null;
}

export function mobileConfig(env: Bindings): MobileConfig {
  const secrets = env as Bindings & PushSecrets;
  const account = serviceAccount(secrets.FCM_SERVICE_ACCOUNT);
  const apnsReady = Boolean(secrets.APNS_KEY && env.APNS_KEY_ID && env.APNS_TEAM_ID && env.APNS_TOPIC);
  return {
    fcm: account ? { endpoint: (env.FCM_ENDPOINT || "https://fcm.googleapis.com").replace(/\/$/, ""), account } : null,
    apns: apnsReady
      ? {
          endpoint: env.APNS_ENDPOINT ? env.APNS_ENDPOINT.replace(/\/$/, "") : null,
          key: secrets.APNS_KEY as string,
          keyId: env.APNS_KEY_ID,
          teamId: env.APNS_TEAM_ID,
          topic: env.APNS_TOPIC,
        }
      : null,
  };
}
