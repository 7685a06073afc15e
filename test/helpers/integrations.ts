/** Fixtures for the integrations tests (issue 27): an admin, bots and API keys made through the admin API. */
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { users } from "../../src/db/schema";
import type { ApiKeyScope } from "../../src/protocol/integrations";
import { createUser, db } from "./fixtures";
import { api } from "./http";

export async function createAdmin(name = "admin") {
  const u = await createUser(name);
  await db().update(users).set({ isAdmin: true }).where(eq(users.id, u.id));
  return u;
}

export async function createBot(adminToken: string, displayName = "Helper bot") {
  const res = await api("POST", "/api/admin/bots", adminToken, { displayName });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.bot as { id: string; displayName: string };
}

/** A key (the secret itself and its record) for a bot (`botId`) or a new service identity. */
export async function createKey(
  adminToken: string,
  scopes: ApiKeyScope[],
  opts: { botId?: string; roomIds?: string[]; name?: string } = {},
) {
  const res = await api("POST", "/api/admin/api-keys", adminToken, {
    name: opts.name ?? `key ${scopes.join(" ")}`,
    scopes,
    ...(opts.botId ? { botId: opts.botId } : {}),
    ...(opts.roomIds ? { roomIds: opts.roomIds } : {}),
  });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json as {
    key: string;
    apiKey: { id: string; prefix: string; principal: { id: string; kind: string; displayName: string } };
  };
}
