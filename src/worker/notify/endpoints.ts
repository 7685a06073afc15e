const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Where edgechat may send webhooks and pushes: https anywhere, plain http only to this machine and only
 * when ALLOW_LOOPBACK_ENDPOINTS is on (dev and tests). Credentials in the URL are refused so they never
 * end up in logs or error records. Returns the reason when refused.
 */
export function endpointProblem(raw: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.username || url.password) return "must not carry credentials";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && allowLoopback && isLoopback(url)) return null;
  return "must be https";
}

export function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}
