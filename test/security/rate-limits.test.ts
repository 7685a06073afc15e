/**
 * Rate-limit bypass (OWASP API4): the per-address window is keyed by CF-Connecting-IP, which Cloudflare's
 * edge sets and clients cannot; headers a client can set (X-Forwarded-For, X-Real-IP, True-Client-IP,
 * Forwarded) change nothing. The per-user window follows the account whatever the address.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/worker/app";
import { createUser } from "../helpers/fixtures";

const call = (path: string, headers: Record<string, string>, overrides: Partial<Env>, init: RequestInit = {}) =>
  app.fetch(new Request(`http://edgechat.test${path}`, { ...init, headers }), { ...env, ...overrides });

const SPOOFS = (i: number): Record<string, string> => ({
  "x-forwarded-for": `10.0.0.${i}, 198.51.100.${i}`,
  "x-real-ip": `192.0.2.${i}`,
  "true-client-ip": `203.0.113.${i}`,
  forwarded: `for=198.51.100.${i}`,
});

describe("rate-limit bypass", () => {
  it("ignores client-set forwarding headers for the per-address window", async () => {
    const ip = `198.51.100.7-${crypto.randomUUID()}`;
    const tight = { RATE_LIMIT_IP_PER_MINUTE: "3" };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call("/api/push/vapid-public-key", { "cf-connecting-ip": ip, ...SPOOFS(i) }, tight);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it("limits login per address whatever the email's spelling", async () => {
    const ip = `198.51.100.8-${crypto.randomUUID()}`;
    const tight = { RATE_LIMIT_AUTH_PER_MINUTE: "2" };
    const statuses: number[] = [];
    // Emails of their own: failures per account (login-guard.test.ts) must not be what answers 429 here.
    const id = crypto.randomUUID();
    for (const email of [
      `a-${id}@example.test`,
      `A-${id}@Example.test`,
      `b-${id}@example.test`,
      ` a-${id}@example.test`,
    ]) {
      const res = await call(
        "/api/auth/login",
        { "cf-connecting-ip": ip, "content-type": "application/json", ...SPOOFS(statuses.length) },
        tight,
        { method: "POST", body: JSON.stringify({ email, password: "guess" }) },
      );
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses.slice(2)).toEqual([429, 429]);
  });

  it("keeps the per-user window across addresses and spoofed headers", async () => {
    const ana = await createUser("ana");
    const tight = { RATE_LIMIT_USER_PER_MINUTE: "2" };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(
        "/api/auth/me",
        { authorization: `Bearer ${ana.token}`, "cf-connecting-ip": `ip-${crypto.randomUUID()}`, ...SPOOFS(i) },
        tight,
      );
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
  });
});
