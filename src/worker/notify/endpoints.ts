/**
 * Where edgechat may send webhooks and pushes: https to public hosts. This machine (http or https) only
 * when ALLOW_LOOPBACK_ENDPOINTS is on (dev and tests); private, link-local and shared-address ranges
 * never, so a user's webhook URL cannot make the worker probe an internal network. Credentials in the URL
 * are refused so they never end up in logs or error records. Returns the reason when refused.
 */
export function endpointProblem(raw: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.username || url.password) return "must not carry credentials";
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be https";
  if (isLoopback(url)) return allowLoopback ? null : "must not point at this machine";
  if (isPrivateAddress(url.hostname)) return "must not point at a private or link-local address";
  if (url.protocol !== "https:") return "must be https";
  return null;
}

/** The URL parser has already normalised the host (`0x7f.1` is `127.0.0.1`, IPv6 is bracketed and compressed). */
export function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || ipv4(host)?.[0] === 127;
}

function isPrivateAddress(host: string): boolean {
  const v4 = ipv4(host);
  if (v4) {
    const [a, b] = v4 as [number, number];
    return (
      a === 0 ||
      a === 10 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata services
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224 // multicast and reserved
    );
  }
  if (!host.startsWith("[")) return false;
  const v6 = host.slice(1, -1);
  return (
    v6 === "::" ||
    v6.startsWith("::ffff:") || // IPv4-mapped: whatever IPv4 it maps to, it is not a public push service
    /^f[cd][0-9a-f]{0,2}:/.test(v6) || // unique local fc00::/7
    /^fe[89ab][0-9a-f]?:/.test(v6) // link-local fe80::/10
  );
}

function ipv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  return parts.map(Number);
}
