/**
 * Where edgechat may send a webhook or a push: https to a public host. Users choose these URLs, so the
 * rules keep the worker from being pointed at anything internal (SSRF). Applied when a URL is saved and
 * again right before each send, since stored URLs outlive rule changes. Pure: it judges the URL's text;
 * what a host *name* resolves to is left to the platform (docs/decisions.md, "SSRF").
 */
import { formatIpv4, inPrefix4, inPrefix6, ipv4At, parseIpv4, parseIpv6 } from "./ip-address";

export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "shared"
  | "link-local"
  | "metadata"
  | "unspecified"
  | "broadcast"
  | "reserved"
  | "benchmark"
  | "documentation"
  | "multicast"
  | "unique-local"
  | "site-local"
  | "ipv4-mapped"
  | "ipv4-compatible"
  | "ipv4-translated"
  | "nat64"
  | "6to4"
  | "teredo"
  | "zoned";

export interface Classified {
  kind: AddressKind;
  /** Human wording for error messages, e.g. "a private network (10.0.0.0/8)". */
  label: string;
  /** The IPv4 address an IPv6 transition form carries, when it carries one. */
  embedded?: string;
}

// Most specific first: the first match wins.
const V4: [string, number, AddressKind, string][] = [
  ["169.254.169.254", 32, "metadata", "a cloud metadata service (169.254.169.254)"],
  ["168.63.129.16", 32, "metadata", "a cloud host service (168.63.129.16)"],
  ["255.255.255.255", 32, "broadcast", "the broadcast address"],
  ["0.0.0.0", 8, "unspecified", "this network (0.0.0.0/8)"],
  ["10.0.0.0", 8, "private", "a private network (10.0.0.0/8)"],
  ["100.64.0.0", 10, "shared", "carrier-grade NAT space (100.64.0.0/10)"],
  ["127.0.0.0", 8, "loopback", "this machine (127.0.0.0/8)"],
  ["169.254.0.0", 16, "link-local", "a link-local address (169.254.0.0/16)"],
  ["172.16.0.0", 12, "private", "a private network (172.16.0.0/12)"],
  ["192.0.0.0", 24, "reserved", "IETF protocol assignments (192.0.0.0/24)"],
  ["192.0.2.0", 24, "documentation", "a documentation range (192.0.2.0/24)"],
  ["192.88.99.0", 24, "reserved", "the retired 6to4 relay range (192.88.99.0/24)"],
  ["192.168.0.0", 16, "private", "a private network (192.168.0.0/16)"],
  ["198.18.0.0", 15, "benchmark", "a benchmarking range (198.18.0.0/15)"],
  ["198.51.100.0", 24, "documentation", "a documentation range (198.51.100.0/24)"],
  ["203.0.113.0", 24, "documentation", "a documentation range (203.0.113.0/24)"],
  ["224.0.0.0", 4, "multicast", "a multicast address (224.0.0.0/4)"],
  ["240.0.0.0", 4, "reserved", "a reserved range (240.0.0.0/4)"],
];

/** Where an IPv6 transition form keeps its IPv4 address: the bit offset, and whether it is inverted. */
type Embed = { at: number; inverted?: boolean };

const V6: [string, number, AddressKind, string, Embed?][] = [
  ["::", 128, "unspecified", "the unspecified address (::)"],
  ["::1", 128, "loopback", "this machine (::1)"],
  ["::ffff:0:0", 96, "ipv4-mapped", "an IPv4-mapped address (::ffff:0:0/96)", { at: 96 }],
  ["::ffff:0:0:0", 96, "ipv4-translated", "an IPv4-translated address (::ffff:0:0:0/96)", { at: 96 }],
  ["::", 96, "ipv4-compatible", "an IPv4-compatible address (::/96)", { at: 96 }],
  ["64:ff9b::", 96, "nat64", "a NAT64 address (64:ff9b::/96)", { at: 96 }],
  // Local-use NAT64 prefixes may be /32 to /96, so where the IPv4 sits is not knowable from the text.
  ["64:ff9b:1::", 48, "nat64", "a local NAT64 address (64:ff9b:1::/48)"],
  ["100::", 64, "reserved", "the discard-only range (100::/64)"],
  // Teredo: 2001:0:<server IPv4>:<flags>:<port>:<client IPv4>, the last two inverted bit by bit.
  ["2001::", 32, "teredo", "a Teredo address (2001::/32)", { at: 96, inverted: true }],
  ["2001:2::", 48, "benchmark", "a benchmarking range (2001:2::/48)"],
  ["2001:db8::", 32, "documentation", "a documentation range (2001:db8::/32)"],
  ["2001::", 23, "reserved", "IETF protocol assignments (2001::/23)"],
  ["2002::", 16, "6to4", "a 6to4 address (2002::/16)", { at: 16 }],
  ["3fff::", 20, "documentation", "a documentation range (3fff::/20)"],
  ["fd00:ec2::254", 128, "metadata", "a cloud metadata service (fd00:ec2::254)"],
  ["fc00::", 7, "unique-local", "a unique-local address (fc00::/7)"],
  ["fe80::", 10, "link-local", "a link-local address (fe80::/10)"],
  ["fec0::", 10, "site-local", "a site-local address (fec0::/10)"],
  ["ff00::", 8, "multicast", "a multicast address (ff00::/8)"],
];

const v6Prefixes = V6.map(([text, length, kind, label, embed]) => ({
  prefix: (parseIpv6(text) as { value: bigint }).value,
  length,
  kind,
  label,
  embed,
}));
const v4Prefixes = V4.map(([text, length, kind, label]) => ({
  prefix: parseIpv4(text) as number,
  length,
  kind,
  label,
}));
const GLOBAL_UNICAST = (parseIpv6("2000::") as { value: bigint }).value;

export function classifyIpv4(value: number): Classified {
  const hit = v4Prefixes.find((p) => inPrefix4(value, p.prefix, p.length));
  return hit ? { kind: hit.kind, label: hit.label } : { kind: "public", label: formatIpv4(value) };
}

export function classifyIpv6(value: bigint, zone: string | null = null): Classified {
  if (zone !== null) return { kind: "zoned", label: "an address scoped to one link (zone id)" };
  const hit = v6Prefixes.find((p) => inPrefix6(value, p.prefix, p.length));
  if (hit) {
    if (!hit.embed) return { kind: hit.kind, label: hit.label };
    const raw = ipv4At(value, hit.embed.at);
    const embedded = formatIpv4(hit.embed.inverted ? (raw ^ 0xffffffff) >>> 0 : raw);
    // Refused whatever it embeds: these forms reach an IPv4 host through a translator or relay this
    // filter cannot see, and a public IPv4 host can always be given as itself.
    return { kind: hit.kind, label: `${hit.label} carrying ${embedded}`, embedded };
  }
  // Everything IANA has not allocated for global unicast is reserved, so new special ranges fail closed.
  if (!inPrefix6(value, GLOBAL_UNICAST, 3)) return { kind: "reserved", label: "a reserved IPv6 range" };
  return { kind: "public", label: "a public IPv6 address" };
}

/** Special-use and de facto internal names (RFC 6761, 6762, 8375) that only mean something inside a network. */
const INTERNAL_SUFFIXES = [
  "local",
  "internal",
  "localdomain",
  "home.arpa",
  "intranet",
  "private",
  "corp",
  "home",
  "lan",
];

export type HostVerdict = { kind: "public" } | { kind: "loopback" } | { kind: "refused"; reason: string };

/**
 * Judges a host as it appears in a URL (`url.hostname`: lowercased, IPv6 in brackets) or raw: IPv4 in any
 * inet_aton form, IPv6 in any text form, or a name.
 */
export function judgeHost(rawHost: string): HostVerdict {
  const host = rawHost.toLowerCase();
  const v6 = parseIpv6(host);
  if (v6) return fromClass(classifyIpv6(v6.value, v6.zone));
  if (host.startsWith("[")) return { kind: "refused", reason: "an unreadable IPv6 address" };
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const v4 = parseIpv4(name);
  if (v4 !== null) return fromClass(classifyIpv4(v4));
  if (name === "localhost" || name.endsWith(".localhost")) return { kind: "loopback" };
  if (name === "" || !name.includes(".")) {
    return { kind: "refused", reason: "a single-label host name (use a fully qualified public name)" };
  }
  const internal = INTERNAL_SUFFIXES.find((s) => name === s || name.endsWith(`.${s}`));
  if (internal) return { kind: "refused", reason: `an internal name (.${internal})` };
  return { kind: "public" };
}

function fromClass(c: Classified): HostVerdict {
  if (c.kind === "public") return { kind: "public" };
  if (c.kind === "loopback") return { kind: "loopback" };
  return { kind: "refused", reason: c.label };
}

/** The URL parser has already normalised the host (`0x7f.1` is `127.0.0.1`; IPv6 is bracketed and compressed). */
export function isLoopback(url: URL): boolean {
  return judgeHost(url.hostname).kind === "loopback";
}

/**
 * Why `raw` may not be used as a webhook URL or push endpoint, or null when it may. This machine (http or
 * https) only when `allowLoopback` (ALLOW_LOOPBACK_ENDPOINTS, dev and tests), and then only in its plain
 * forms (127.0.0.0/8, ::1, localhost), never through a mapped or translated IPv6 form. Credentials in the
 * URL are refused so they never end up in logs or error records.
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
  const verdict = judgeHost(url.hostname);
  if (verdict.kind === "loopback") return allowLoopback ? null : "must not point at this machine";
  if (verdict.kind === "refused") return `must not point at ${verdict.reason}`;
  if (url.protocol !== "https:") return "must be https";
  return null;
}
