/**
 * API keys: `ek_` + 43 base64url characters (256 random bits). Only the SHA-256 of a key is stored; a
 * request's key is hashed and looked up in Postgres every time (the truth, so a revoked key is refused
 * from the next request on, with Redis up or down), and `last_used_at` is written at most once a minute
 * by the same statement. Keys never appear in logs: the request log writes paths only, and no message
 * here quotes one.
 */
import { sql } from "drizzle-orm";
import { createDb } from "../../db/client";
import type { PrincipalKind } from "../../db/integration-schema";
import type { ApiKeyScope } from "../../protocol/integrations";
import type { Bindings } from "../types";

export const KEY_PREFIX = "ek_";
const KEY_PATTERN = /^ek_[A-Za-z0-9_-]{43}$/;
/** Characters of a key shown in listings (`ek_` and 8 more). */
const SHOWN_CHARS = 11;
/** A key's socket is told its credential "expires" after this long (or at the key's own expiry), then reconnects. */
export const KEY_SOCKET_TTL_SECONDS = 24 * 60 * 60;

export interface KeyIdentity {
  id: string;
  name: string;
  principalId: string;
  principalKind: PrincipalKind;
  scopes: ApiKeyScope[];
  roomIds: string[] | null;
  /** Unix seconds: the key's expiry, or a day from now for keys without one (what sockets are told). */
  expiresAt: number;
}

/** Syntax only: a bearer credential shaped like a key is never tried as a JWT, and the reverse. */
export function looksLikeApiKey(token: string | null): token is string {
  return token?.startsWith(KEY_PREFIX) === true;
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function newApiKey(): Promise<{ key: string; prefix: string; hash: string }> {
  const key = `${KEY_PREFIX}${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
  return { key, prefix: key.slice(0, SHOWN_CHARS), hash: await sha256Hex(key) };
}

type KeyRow = {
  id: string;
  name: string;
  principal_id: string;
  kind: PrincipalKind | null;
  scopes: ApiKeyScope[];
  room_ids: string[] | null;
  expires_at: string | Date | null;
  banned: boolean;
};

/**
 * The live key behind `token`, or null (unknown, revoked, expired, or its principal banned or no longer
 * a bot or service identity). Touches last_used_at when it is over a minute old, in the same statement.
 */
export async function lookupApiKey(env: Bindings, token: string): Promise<KeyIdentity | null> {
  if (!KEY_PATTERN.test(token)) return null;
  const hash = await sha256Hex(token);
  const { rows } = await createDb(env).execute<KeyRow>(sql`
    with k as (
      select k.id, k.name, k.principal_id, k.scopes, k.room_ids, k.expires_at, k.last_used_at, b.kind,
             u.banned_at is not null as banned
      from api_keys k
      join users u on u.id = k.principal_id
      left join bot_accounts b on b.user_id = k.principal_id
      where k.key_hash = ${hash} and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
    ), touched as (
      update api_keys set last_used_at = now()
      where id in (select id from k where last_used_at is null or last_used_at < now() - interval '60 seconds')
      returning id
    )
    select k.id, k.name, k.principal_id, k.kind, k.scopes, k.room_ids, k.expires_at, k.banned,
           (select count(*) from touched) as touched
    from k`);
  const row = rows[0];
  if (!row || row.banned || !row.kind) return null;
  const dayFromNow = Math.floor(Date.now() / 1000) + KEY_SOCKET_TTL_SECONDS;
  const expiry = row.expires_at === null ? null : Math.floor(new Date(row.expires_at).getTime() / 1000);
  return {
    id: row.id,
    name: row.name,
    principalId: row.principal_id,
    principalKind: row.kind,
    scopes: pgArray(row.scopes) as ApiKeyScope[],
    roomIds: row.room_ids === null ? null : pgArray(row.room_ids),
    expiresAt: expiry === null ? dayFromNow : Math.min(expiry, dayFromNow),
  };
}

/** Raw SQL through the HTTP driver answers arrays as Postgres text (`{a,b}`) or as arrays, by type. */
function pgArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.replace(/^\{|\}$/g, "");
  return inner === "" ? [] : inner.split(",").map((v) => v.replace(/^"|"$/g, ""));
}

/** Tickets a key minted carry this in place of a session id (see middleware/auth.ts). */
export const KEY_SESSION_PREFIX = "apikey:";

/**
 * Whether the key a ticket was minted with may still open a socket: not revoked, not expired, its
 * principal not banned. Postgres only, like the key lookup, so a revocation holds with Redis down.
 */
export async function apiKeyState(
  env: Bindings,
  keyId: string,
  principalId: string,
): Promise<"live" | "revoked" | "banned"> {
  const { rows } = await createDb(env).execute<{ banned: boolean }>(sql`
    select u.banned_at is not null as banned from api_keys k join users u on u.id = k.principal_id
    where k.id = ${keyId}::uuid and k.principal_id = ${principalId}::uuid
      and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())`);
  const row = rows[0];
  if (!row) return "revoked";
  return row.banned ? "banned" : "live";
}
