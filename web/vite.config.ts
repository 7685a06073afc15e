import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";
import { staticHeadersFile } from "../src/lib/security-headers.ts";

/** Static assets are served without the worker, so their security headers go in Workers' `_headers` file. */
const securityHeaders: Plugin = {
  name: "edgechat-security-headers",
  generateBundle() {
    this.emitFile({ type: "asset", fileName: "_headers", source: staticHeadersFile() });
  },
};

/**
 * The API reference UI that /docs loads (src/worker/routes/docs.ts): Swagger UI's prebuilt bundle and
 * stylesheet from npm, copied as they are into dist/web/reference/ (with web/public/reference/init.js),
 * so the page is served by this deployment and fetches nothing from elsewhere.
 */
const apiReference: Plugin = {
  name: "edgechat-api-reference",
  generateBundle() {
    const require = createRequire(import.meta.url);
    for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"]) {
      this.emitFile({
        type: "asset",
        fileName: `reference/${file === "LICENSE" ? "LICENSE.txt" : file}`,
        source: readFileSync(require.resolve(`swagger-ui-dist/${file}`)),
      });
    }
  },
};

/** The web app, built into dist/web and served by the worker as static assets (wrangler.jsonc "assets"). */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact(), securityHeaders, apiReference],
  build: { outDir: "../dist/web", emptyOutDir: true, sourcemap: true },
});
