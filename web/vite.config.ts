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

/** The web app, built into dist/web and served by the worker as static assets (wrangler.jsonc "assets"). */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact(), securityHeaders],
  build: { outDir: "../dist/web", emptyOutDir: true, sourcemap: true },
});
