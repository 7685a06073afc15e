/**
 * Password hashing: PBKDF2-SHA256 through WebCrypto over HMAC-SHA256(pepper, password). The pepper is a
 * secret outside the database, so a leaked table alone cannot be brute-forced. Parameters are stored
 * with each hash (`pbkdf2-sha256$<iterations>$<salt>$<hash>`) so they can be raised later.
 */

/** Cloudflare's production runtime refuses more than 100,000 PBKDF2 iterations (local workerd does not). */
export const MAX_ITERATIONS = 100_000;
export const ITERATIONS = 100_000;

const encoder = new TextEncoder();

function b64(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const b of view) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function unb64(text: string): Uint8Array {
  const s = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function peppered(password: string, pepper: string): Promise<ArrayBuffer> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return crypto.subtle.sign("HMAC", key, encoder.encode(password));
}

async function derive(password: string, pepper: string, salt: Uint8Array, iterations: number): Promise<ArrayBuffer> {
  if (iterations > MAX_ITERATIONS)
    throw new RangeError(`PBKDF2 iterations above ${MAX_ITERATIONS} are refused in production`);
  const material = await crypto.subtle.importKey("raw", await peppered(password, pepper), "PBKDF2", false, [
    "deriveBits",
  ]);
  return crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, 256);
}

export async function hashPassword(password: string, pepper: string, iterations = ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, pepper, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(hash)}`;
}

export async function verifyPassword(password: string, stored: string, pepper: string): Promise<boolean> {
  const [scheme, iterText, saltText, hashText] = stored.split("$");
  if (scheme !== "pbkdf2-sha256" || !iterText || !saltText || !hashText) return false;
  const expected = unb64(hashText);
  const actual = new Uint8Array(await derive(password, pepper, unb64(saltText), Number(iterText)));
  if (actual.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < actual.length; i++) diff |= (actual[i] as number) ^ (expected[i] as number);
  return diff === 0;
}

/** A hash of a random password, checked against when the email is unknown so both paths cost the same. */
let decoy: Promise<string> | null = null;
export function decoyHash(pepper: string): Promise<string> {
  decoy ??= hashPassword(crypto.randomUUID(), pepper);
  return decoy;
}

export { b64 as base64url };
