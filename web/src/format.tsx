import type { ComponentChildren } from "preact";

/** Times as people say them: relative today ("3 min ago"), a date beyond. */
export function shortTime(iso: string, now = Date.now()): string {
  const at = new Date(iso);
  const ago = now - at.getTime();
  if (sameDay(at, new Date(now))) {
    if (ago < 60_000) return "just now";
    if (ago < 3_600_000) return `${Math.floor(ago / 60_000)} min ago`;
    return clock(at);
  }
  if (isYesterday(at, now)) return `Yesterday ${clock(at)}`;
  const sameYear = at.getFullYear() === new Date(now).getFullYear();
  return `${at.toLocaleDateString(undefined, { day: "numeric", month: "short", ...(sameYear ? {} : { year: "numeric" }) })}, ${clock(at)}`;
}

/** The whole date and time, for titles and screen readers. */
export function fullTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
}

export function clock(d: Date): string {
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function isYesterday(d: Date, now: number): boolean {
  const y = new Date(now);
  y.setDate(y.getDate() - 1);
  return sameDay(d, y);
}

/** A day separator's label: Today, Yesterday, or the date. */
export function dayLabel(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  if (sameDay(d, new Date(now))) return "Today";
  if (isYesterday(d, now)) return "Yesterday";
  return d.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
}

/** Up to two initials of a name, for avatars. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[1]] : [words[0] ?? "?"];
  return letters
    .map((w) => [...(w ?? "?")][0] ?? "?")
    .join("")
    .toUpperCase();
}

/** A steady hue per person, dark enough for white initials (contrast at least 4.5:1). */
export function avatarColor(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + (ch.codePointAt(0) ?? 0)) % 360;
  return `hsl(${h} 50% 28%)`;
}

export function Avatar({ id, name, size = "md" }: { id: string; name: string; size?: "sm" | "md" }) {
  return (
    <span class={`avatar ${size}`} style={{ background: avatarColor(id) }} aria-hidden="true">
      {initials(name)}
    </span>
  );
}

const URL_PATTERN = /\b(https?:\/\/[^\s<>"']+|www\.[^\s<>"']+\.[^\s<>"']+)/gi;
/** Trailing punctuation belongs to the sentence, not the link ("see https://x.dev." or "(https://x.dev)"). */
const TRAILING = /[.,;:!?)\]}'"]+$/;

/**
 * Message text with its web addresses as links. Only http(s) addresses become links (never javascript:
 * or data:), they open in a new tab without a referrer or a handle on this page, and everything else is
 * text that Preact escapes.
 */
export function Linkified({ text }: { text: string }) {
  const parts: ComponentChildren[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    const trail = TRAILING.exec(url)?.[0] ?? "";
    // Keep a closing bracket that the address itself opened (Wikipedia-style links).
    if (trail && !(trail.startsWith(")") && url.slice(0, -trail.length).includes("(")))
      url = url.slice(0, -trail.length);
    const start = match.index ?? 0;
    if (start > last) parts.push(text.slice(last, start));
    const href = url.toLowerCase().startsWith("www.") ? `https://${url}` : url;
    parts.push(
      safeHref(href) ? (
        <a key={start} href={href} target="_blank" rel="noopener noreferrer nofollow ugc">
          {url}
        </a>
      ) : (
        url
      ),
    );
    last = start + url.length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}

function safeHref(href: string): boolean {
  try {
    const u = new URL(href);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

export function excerpt(body: string, max = 80): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function durationText(seconds: number): string {
  if (seconds <= 0) return "off";
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
