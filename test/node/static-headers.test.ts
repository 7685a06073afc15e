/**
 * The web app's HTML and assets are served by Workers static assets without running the worker, so
 * their security headers come from the `_headers` file the web build writes (wrangler reads it as
 * configuration and does not publish it). This builds the app and reads what the platform would apply.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "vite";
import { afterAll, describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../../src/lib/security-headers";

const out = await mkdtemp(path.join(tmpdir(), "edgechat-web-"));
afterAll(() => rm(out, { recursive: true, force: true }));

/** `_headers` as Workers static assets read it: a path pattern line, then indented `Name: value` lines. */
function parseHeadersFile(text: string): Map<string, Record<string, string>> {
  const rules = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of text.split("\n")) {
    if (!line.trim() || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      current = {};
      rules.set(line.trim(), current);
      continue;
    }
    const cut = line.indexOf(":");
    if (current && cut > 0) current[line.slice(0, cut).trim()] = line.slice(cut + 1).trim();
  }
  return rules;
}

describe("the web build's _headers", () => {
  it("gives every path, the HTML included, the same security headers as the worker's responses", async () => {
    await build({
      configFile: path.resolve("web/vite.config.ts"),
      logLevel: "silent",
      build: { outDir: out, emptyOutDir: true, sourcemap: false },
    });
    expect(await readdir(out)).toEqual(expect.arrayContaining(["_headers", "index.html"]));
    const rules = parseHeadersFile(await readFile(path.join(out, "_headers"), "utf8"));
    expect([...rules.keys()]).toEqual(["/*"]);
    expect(rules.get("/*")).toEqual(SECURITY_HEADERS);
    // Nothing in the built HTML needs more than the policy allows: no inline scripts or styles.
    const html = await readFile(path.join(out, "index.html"), "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  }, 60_000);
});
