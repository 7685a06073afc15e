/**
 * src/ is written for a bundler (extensionless relative imports), which Node's own loader refuses. This
 * hook lets the chaos and fuzz scripts import the SDK and the schemas unchanged: a relative specifier that
 * does not resolve is retried with `.ts`, then `/index.ts`.
 */
import { registerHooks } from "node:module";

registerHooks({
  resolve(specifier, context, next) {
    if (!specifier.startsWith(".")) return next(specifier, context);
    try {
      return next(specifier, context);
    } catch (err) {
      for (const suffix of [".ts", "/index.ts"]) {
        try {
          return next(specifier + suffix, context);
        } catch {
          // try the next form
        }
      }
      throw err;
    }
  },
});
