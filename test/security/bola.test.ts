/**
 * Broken object-level authorisation, generated from the app's own route table (`app.routes`): every route
 * with a path parameter is called by Eve, who is signed in but has no access to the objects named, with a
 * body that would be valid for someone who had. Each must answer 403 or 404 and leave everything as it was.
 * A new route with a parameter is attacked by default; one whose parameter has no fixture fails this file
 * until one is added below.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/worker/app";
import { makeWorld, snapshot, type World } from "./world";

/** What each path parameter names in the world, by parameter and the path segment before it. */
function paramValue(w: World, name: string, before: string): string | undefined {
  if (name === "id") {
    return {
      rooms: w.room.id,
      users: w.ana.id,
      attachments: w.attachmentId,
      subscriptions: w.subscriptionId,
      // Integrations (issue 27): admin records, hidden (404) from Eve whatever the id names.
      "api-keys": w.room.id,
      bots: w.ana.id,
      webhooks: w.room.id,
      // Integrations: a phone is its owner's; anyone else's id (here not a device at all) is 404.
      devices: w.room.id,
      exports: w.room.id,
      reports: w.reportId,
      // Content rules (issue 26): admin records, hidden (404) from Eve whatever the id names.
      "content-rules": w.room.id,
    }[before];
  }
  return { roomId: w.room.id, seq: String(w.seq), userId: w.ben.id, emoji: "👍", reportId: w.reportId }[name];
}

/** Bodies a user with access could send; without one a route could stop at validation and prove nothing. */
function bodyFor(w: World, method: string, path: string): { body?: BodyInit; type?: string } {
  const json = (v: unknown) => ({ body: JSON.stringify(v), type: "application/json" });
  const bodies: Record<string, () => { body?: BodyInit; type?: string }> = {
    "PATCH /api/rooms/:id": () => json({ name: "owned by eve", isPublic: true }),
    "POST /api/rooms/:id/members": () => json({ userId: w.eve.id, role: "admin" }),
    "POST /api/rooms/:id/messages": () => json({ clientMsgId: crypto.randomUUID(), body: "eve was here" }),
    "POST /api/rooms/:id/read": () => json({ seq: w.seq }),
    "POST /api/rooms/:id/attachments": () => json({ filename: "x.txt", contentType: "text/plain", size: 3 }),
    "PATCH /api/messages/:roomId/:seq": () => json({ body: "edited by eve" }),
    "POST /api/messages/:roomId/:seq/reactions": () => json({ emoji: "🔥" }),
    "PUT /api/attachments/:id/content": () => ({ body: "evil!", type: "text/plain" }),
    "POST /api/admin/users/:id/ban": () => json({ reason: "eve says so" }),
    "POST /api/rooms/:id/reports": () => json({ seq: w.seq, reason: "spam" }),
    "PATCH /api/rooms/:id/reports/:reportId": () => json({ state: "dismissed" }),
    "PATCH /api/admin/reports/:id": () => json({ state: "dismissed" }),
  };
  return bodies[`${method} ${path}`]?.() ?? {};
}

/** Routes whose answer to a stranger is deliberately not 403/404, and why. */
const EXPECTED: Record<string, number[]> = {
  // Deleting a subscription is idempotent and silent about other users' ids (nothing is deleted).
  "DELETE /api/push/subscriptions/:id": [204],
  // :userId names whom the caller blocks: the block list is the caller's own (blocking anyone is allowed,
  // and invisible to them); it changes no one else's data.
  "PUT /api/me/blocks/:userId": [204],
  "DELETE /api/me/blocks/:userId": [204],
};

const ROUTES = [
  ...new Map(
    app.routes.filter((r) => r.method !== "ALL" && r.path.includes("/:")).map((r) => [`${r.method} ${r.path}`, r]),
  ).values(),
];

describe("BOLA on every route with a path parameter", () => {
  let world: World;
  let before: Awaited<ReturnType<typeof snapshot>>;
  beforeAll(async () => {
    world = await makeWorld();
    before = await snapshot(world);
  }, 60_000);

  it("finds the routes in the route table", () => {
    expect(ROUTES.length).toBeGreaterThan(20);
    expect(ROUTES.map((r) => `${r.method} ${r.path}`)).toContain("PATCH /api/messages/:roomId/:seq");
  });

  it.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r.method, r.path] as const))(
    "%s refuses a user without access",
    async (_, method, path) => {
      const url = path.replace(/:(\w+)/g, (_m, name: string, offset: number) => {
        const before = path.slice(0, offset).split("/").filter(Boolean).pop() ?? "";
        const value = paramValue(world, name, before);
        if (value === undefined) throw new Error(`no fixture for :${name} after /${before}/ in ${path}; add one`);
        return encodeURIComponent(value);
      });
      const { body, type } = bodyFor(world, method, path);
      const headers: Record<string, string> = { authorization: `Bearer ${world.eve.token}` };
      if (type) headers["content-type"] = type;
      if (path.endsWith("/ws")) headers.upgrade = "websocket";
      const res = await exports.default.fetch(`http://edgechat.test${url}`, { method, headers, body });
      const text = await res.text();
      expect(EXPECTED[`${method} ${path}`] ?? [403, 404], `${method} ${url}: ${text}`).toContain(res.status);
      if (res.status >= 400) expect(JSON.parse(text).error.code).toMatch(/^(forbidden|not_found)$/);
    },
  );

  it("left the world exactly as it was", async () => {
    expect(await snapshot(world)).toEqual(before);
  });
});

describe("function-level authorisation inside a room", () => {
  it("a plain member cannot administer the room or touch another member's message", async () => {
    const w = await makeWorld();
    const start = await snapshot(w);
    const attempts: [string, string, unknown][] = [
      ["PATCH", `/api/rooms/${w.room.id}`, { name: "ben's now" }],
      ["DELETE", `/api/rooms/${w.room.id}/members/${w.ana.id}`, undefined],
      ["POST", `/api/rooms/${w.room.id}/members`, { userId: w.eve.id, role: "admin" }],
      ["PATCH", `/api/messages/${w.room.id}/${w.seq}`, { body: "ben edits ana" }],
      ["DELETE", `/api/messages/${w.room.id}/${w.seq}`, undefined],
      ["GET", `/api/admin/users/${w.ana.id}`, undefined],
      ["POST", `/api/admin/users/${w.ana.id}/ban`, {}],
      ["DELETE", `/api/admin/rooms/${w.room.id}`, undefined],
      // Ben made the report, but only the room's owners and admins review and handle reports.
      ["GET", `/api/rooms/${w.room.id}/reports`, undefined],
      ["PATCH", `/api/rooms/${w.room.id}/reports/${w.reportId}`, { state: "dismissed" }],
      ["PATCH", `/api/admin/reports/${w.reportId}`, { state: "dismissed" }],
    ];
    const { api } = await import("../helpers/http");
    for (const [method, path, body] of attempts) {
      const res = await api(method, path, w.ben.token, body);
      expect([403, 404], `${method} ${path}: ${JSON.stringify(res.json)}`).toContain(res.status);
    }
    expect(await snapshot(w)).toEqual(start);
  });
});
