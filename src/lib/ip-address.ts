/**
 * IP address literals parsed the permissive way resolvers and URL parsers read them, so a filter built on
 * this sees the same address the network stack would connect to. Pure: no DNS, no platform APIs.
 */

/**
 * IPv4 as inet_aton and the WHATWG URL parser read it: one to four parts, each decimal, octal (leading 0)
 * or hex (0x), the last part filling the remaining bytes (`127.1`, `0x7f.1`, `2130706433`), one trailing
 * dot allowed. Returns the address as an unsigned 32-bit number, or null when it is not an IPv4 literal.
 */
export function parseIpv4(text: string): number | null {
  const parts = text.endsWith(".") ? text.slice(0, -1).split(".") : text.split(".");
  if (parts.length === 0 || parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    const value = ipv4Part(part);
    if (value === null) return null;
    values.push(value);
  }
  const last = values.pop() as number;
  if (values.some((v) => v > 255)) return null;
  // The last part covers every byte the earlier parts did not: 4 bytes alone, 1 byte after three parts.
  if (last >= 256 ** (4 - values.length)) return null;
  return values.reduce((acc, v, i) => acc + v * 256 ** (3 - i), 0) + last;
}

function ipv4Part(part: string): number | null {
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits === "") return 0; // `0x` alone is zero to the URL parser
  } else if (part.length > 1 && part.startsWith("0")) {
    digits = part.slice(1);
    radix = 8;
  }
  const pattern = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return null;
  const value = Number.parseInt(digits, radix);
  return Number.isSafeInteger(value) ? value : null;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

export interface Ipv6 {
  /** The 128 bits, most significant first. */
  value: bigint;
  /** The zone id after `%` (`fe80::1%eth0`), if any: such an address only means something on one link. */
  zone: string | null;
}

/**
 * IPv6 in any RFC 4291 text form: full, `::`-compressed, with a trailing dotted quad (`::ffff:1.2.3.4`),
 * in brackets as in a URL, with a zone id (`%eth0`, or `%25eth0` percent-encoded). Null when not IPv6.
 */
export function parseIpv6(text: string): Ipv6 | null {
  let body = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  let zone: string | null = null;
  const percent = body.indexOf("%");
  if (percent >= 0) {
    zone = body.slice(percent + 1).replace(/^25/, "");
    body = body.slice(0, percent);
    if (zone === "") return null;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  // A dotted quad may only end the address, so never in the part before a `::`.
  const head = groups(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] as string, true) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...head, ...Array<number>(8 - total).fill(0), ...tail];
  return { value: all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n), zone };
}

/** Colon-separated hex groups; a dotted quad may stand for the last two. Null when malformed. */
function groups(text: string, dottedLast: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const out: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (dottedLast && i === parts.length - 1 && part.includes(".")) {
      // Only strict dotted decimal here (RFC 4291 2.2); the permissive forms are IPv4-host syntax.
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(part)) return null;
      const bytes = part.split(".").map(Number);
      if (bytes.some((b) => b > 255)) return null;
      const [a, b, c, d] = bytes as [number, number, number, number];
      out.push(a * 256 + b, c * 256 + d);
    } else {
      if (!/^[0-9a-f]{1,4}$/i.test(part)) return null;
      out.push(Number.parseInt(part, 16));
    }
  }
  return out;
}

/** Bits `from` (inclusive, 0 = most significant) to `from + 32` of an IPv6 address, as an IPv4 number. */
export function ipv4At(v6: bigint, from: number): number {
  return Number((v6 >> BigInt(96 - from)) & 0xffffffffn);
}

/** Whether `value` lies in `prefix/length` (IPv6, prefix given as a parsed literal). */
export function inPrefix6(value: bigint, prefix: bigint, length: number): boolean {
  const shift = BigInt(128 - length);
  return value >> shift === prefix >> shift;
}

export function inPrefix4(value: number, prefix: number, length: number): boolean {
  const size = 2 ** (32 - length);
  return Math.floor(value / size) === Math.floor(prefix / size);
}
