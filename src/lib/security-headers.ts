/**
 * Response headers that keep the web app from being framed, sniffed or made to load anything from
 * elsewhere. One list for both ways a response leaves: the worker (API, docs) sets them on its own
 * responses, and the web build writes them into dist/web/_headers for the static assets, which the
 * platform serves without running the worker.
 */

/**
 * The Preact app loads only its own bundle, stylesheet and same-origin API and sockets. `'self'` in
 * connect-src covers ws: and wss: to the same host in CSP Level 3 browsers; style attributes set by
 * Preact go through the CSSOM, which style-src does not restrict.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  // For browsers that predate frame-ancestors.
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/** The `_headers` file for Workers static assets: every path gets every header. */
export function staticHeadersFile(): string {
  return `/*\n${Object.entries(SECURITY_HEADERS)
    .map(([name, value]) => `  ${name}: ${value}`)
    .join("\n")}\n`;
}
