/**
 * The API (and every other response the worker makes) carries the web app's security headers. The HTML
 * itself is served by the platform's asset layer, which this pool does not route through: see
 * test/node/static-headers.test.ts for the _headers file the build writes for it.
 */
/** The web app and the API carry the headers that keep the app from being framed, sniffed or injected. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../../src/lib/security-headers";

function expectSecurityHeaders(res: Response, what: string) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(res.headers.get(name), `${what}: ${name}`).toBe(value);
  }
  const csp = res.headers.get("content-security-policy") ?? "";
  for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) {
    expect(csp, what).toContain(directive);
  }
}

describe("security headers", () => {
  it("are on API responses, errors included", async () => {
    expectSecurityHeaders(await exports.default.fetch("http://edgechat.test/api/push/vapid-public-key"), "public");
    const refused = await exports.default.fetch("http://edgechat.test/api/auth/me");
    expect(refused.status).toBe(401);
    expectSecurityHeaders(refused, "401");
    expectSecurityHeaders(await exports.default.fetch("http://edgechat.test/api/no-such-route"), "404");
  });

  it("give the docs page the app's strict policy (its reference UI is served from this origin, no inline code)", async () => {
    const docs = await exports.default.fetch("http://edgechat.test/docs");
    expect(docs.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(docs.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    expect(docs.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
