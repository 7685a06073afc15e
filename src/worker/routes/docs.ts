import { Hono } from "hono";
import { openApiDocument } from "../openapi";
import { defineRoute, handle } from "../route";
import type { AppEnv } from "../types";

export const docs = new Hono<AppEnv>();

const document = defineRoute({
  method: "get",
  path: "/openapi.json",
  summary: "This document",
  tag: "meta",
  auth: "none",
  responses: { 200: { description: "OpenAPI 3.1 document", contentType: "application/json" } },
});
handle(docs, document, (c) => c.json(openApiDocument("public")));

/**
 * The interactive reference: Swagger UI, bundled from npm into the web build (dist/web/reference/, see
 * web/vite.config.ts) and served from this deployment, reading /openapi.json. Nothing is fetched from
 * elsewhere, so the page keeps the app's strict policy (no inline script or style); "Authorize" takes an
 * access token for "Try it out", kept in the page's memory only.
 */
const reference = defineRoute({
  method: "get",
  path: "/docs",
  summary: "Interactive API reference",
  tag: "meta",
  auth: "none",
  responses: { 200: { description: "HTML page", contentType: "text/html" } },
});
handle(docs, reference, (c) => c.html(PAGE));

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgechat API reference</title>
<link rel="stylesheet" href="/reference/swagger-ui.css">
<link rel="stylesheet" href="/reference/overrides.css">
</head><body>
<div id="reference"><p>Loading the API reference from <a href="/openapi.json">/openapi.json</a>…</p></div>
<noscript><p>The reference needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<script src="/reference/swagger-ui-bundle.js"></script>
<script src="/reference/init.js"></script>
</body></html>`;
