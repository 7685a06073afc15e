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
 * A self-contained reference: reads /openapi.json, lists every operation with its schemas, and sends
 * requests with a token pasted into the page (kept in memory only, never stored).
 */
const reference = defineRoute({
  method: "get",
  path: "/docs",
  summary: "Interactive API reference",
  tag: "meta",
  auth: "none",
  responses: { 200: { description: "HTML page", contentType: "text/html" } },
});
handle(docs, reference, (c) => {
  c.header("content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
  return c.html(PAGE);
});

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgechat API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.6rem}details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.4rem .8rem}
summary{cursor:pointer}code,pre,textarea,input{font:13px ui-monospace,monospace}
.m{display:inline-block;min-width:4.5em;font-weight:600;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c03}
pre{background:#f6f6f8;padding:.6rem;overflow:auto}textarea{width:100%;min-height:6em}
label{display:block;margin:.3rem 0}
</style></head><body>
<h1>edgechat API</h1>
<label>Access token <input id="token" size="60" autocomplete="off" aria-label="Access token"></label>
<main id="ops">Loading /openapi.json…</main>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);
fetch("/openapi.json").then((r) => r.json()).then((doc) => {
  const main = document.getElementById("ops");
  main.innerHTML = "";
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const el = document.createElement("details");
    const body = op.requestBody ? op.requestBody.content["application/json"].schema : null;
    el.innerHTML = '<summary><span class="m ' + method + '">' + method + '</span> <code>' + esc(path) + '</code> ' + esc(op.summary) + '</summary>' +
      (op.parameters ? '<pre>' + esc(JSON.stringify(op.parameters, null, 2)) + '</pre>' : '') +
      (body ? '<pre>' + esc(JSON.stringify(body, null, 2)) + '</pre>' : '') +
      '<label>Path and query <input class="url" size="70" value="' + esc(path) + '"></label>' +
      (body ? '<label>Body <textarea class="body">{}</textarea></label>' : '') +
      '<button type="button">Send</button><pre class="out" aria-live="polite"></pre>';
    el.querySelector("button").addEventListener("click", async () => {
      const token = document.getElementById("token").value.trim();
      const headers = token ? { authorization: "Bearer " + token } : {};
      const text = el.querySelector(".body");
      if (text) headers["content-type"] = "application/json";
      const res = await fetch(el.querySelector(".url").value, { method: method.toUpperCase(), headers, body: text ? text.value : undefined });
      el.querySelector(".out").textContent = res.status + " " + res.statusText + "\\n" + (await res.text());
    });
    main.appendChild(el);
  }
});
</script></body></html>`;
