import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

/** The web app, built into dist/web and served by the worker as static assets (wrangler.jsonc "assets"). */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact()],
  build: { outDir: "../dist/web", emptyOutDir: true, sourcemap: true },
});
