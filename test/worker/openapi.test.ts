/** /openapi.json lists exactly the routes the worker serves, with the schemas that validate them. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/worker/app";
import { openApiDocument } from "../../src/worker/openapi";

type Doc = {
  paths: Record<
    string,
    Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> } }>
  >;
};

describe("GET /openapi.json and /docs", () => {
  it("documents every route the app serves, and nothing it does not", async () => {
    const res = await exports.default.fetch("http://edgechat.test/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    const adminDoc = openApiDocument("admin") as Doc;
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/api/admin"))).toEqual([]);
    const documented = [...Object.entries(doc.paths), ...Object.entries(adminDoc.paths)]
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const served = [
      ...new Set(
        app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
      ),
    ].sort();
    expect(documented).toEqual(served);
  });

  it("uses the validating schemas: strict bodies, required fields", async () => {
    const doc = (await (await exports.default.fetch("http://edgechat.test/openapi.json")).json()) as Doc;
    const send = doc.paths["/api/rooms/{id}/messages"]?.post?.requestBody?.content["application/json"]?.schema as {
      properties: Record<string, { maxLength?: number }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(send.required.sort()).toEqual(["body", "clientMsgId"]);
    expect(send.properties.body?.maxLength).toBe(4000);
    expect(send.additionalProperties).toBe(false);
  });

  it("serves the bundled reference UI (Swagger UI from the web build), which reads the document", async () => {
    const res = await exports.default.fetch("http://edgechat.test/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain('<script src="/reference/swagger-ui-bundle.js"></script>');
    expect(html).toContain('<script src="/reference/init.js"></script>');
    expect(html).toContain('href="/openapi.json"');
    expect(html).not.toMatch(/https?:\/\//);
  });
});
