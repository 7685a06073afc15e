/**
 * Issue 22, defect 8: registering someone else's push endpoint with one's own keys used to take over their
 * subscription row. An endpoint now moves between users only with the browser's own keys.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pushSubscriptions } from "../../src/db/notification-schema";
import { createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { browserKeys } from "../helpers/push-keys";

const rowsFor = async (endpoint: string) =>
  db().select().from(pushSubscriptions).where(eq(pushSubscriptions.endpoint, endpoint));

describe("one user's push registration never changes another's", () => {
  it("refuses another user's endpoint with other keys: 409 conflict, the owner's row untouched", async () => {
    const victim = await createUser("victim");
    const attacker = await createUser("attacker");
    const endpoint = `https://push.example.com/${crypto.randomUUID()}`;
    const keys = await browserKeys();
    const mine = await api("POST", "/api/push/subscriptions", victim.token, { endpoint, keys });
    expect(mine.status).toBe(201);
    const [before] = await rowsFor(endpoint);

    const attack = await api("POST", "/api/push/subscriptions", attacker.token, {
      endpoint,
      keys: await browserKeys(),
      expirationTime: Date.now() + 1000,
    });
    expect(attack.status).toBe(409);
    expect(attack.json.error.code).toBe("conflict");
    // Half the keys is not the subscription either.
    const half = await api("POST", "/api/push/subscriptions", attacker.token, {
      endpoint,
      keys: { p256dh: keys.p256dh, auth: (await browserKeys()).auth },
    });
    expect(half.status).toBe(409);
    expect(await rowsFor(endpoint)).toEqual([before]);
    // Nor can the attacker then delete it by the id the victim was given.
    await api("DELETE", `/api/push/subscriptions/${mine.json.subscription.id}`, attacker.token);
    expect(await rowsFor(endpoint)).toEqual([before]);
  });

  it("moves the endpoint when the same browser registers it for the next account (same keys)", async () => {
    const first = await createUser("first");
    const second = await createUser("second");
    const endpoint = `https://push.example.com/${crypto.randomUUID()}`;
    const keys = await browserKeys();
    const a = await api("POST", "/api/push/subscriptions", first.token, { endpoint, keys });
    const b = await api("POST", "/api/push/subscriptions", second.token, { endpoint, keys });
    expect(b.status).toBe(201);
    expect(b.json.subscription.id).toBe(a.json.subscription.id);
    const rows = await rowsFor(endpoint);
    expect(rows.map((r) => r.userId)).toEqual([second.id]);
  });

  it("lets the owner re-register, even with new keys", async () => {
    const me = await createUser("me");
    const endpoint = `https://push.example.com/${crypto.randomUUID()}`;
    const a = await api("POST", "/api/push/subscriptions", me.token, { endpoint, keys: await browserKeys() });
    const fresh = await browserKeys();
    const b = await api("POST", "/api/push/subscriptions", me.token, { endpoint, keys: fresh });
    expect(b.status).toBe(201);
    expect(b.json.subscription.id).toBe(a.json.subscription.id);
    expect((await rowsFor(endpoint)).map((r) => [r.userId, r.auth])).toEqual([[me.id, fresh.auth]]);
  });
});
