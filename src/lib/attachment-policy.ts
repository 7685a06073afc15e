/** What may be uploaded, and how a stored file is named and shown when downloaded. */
import { positiveSetting } from "./config";

export interface AttachmentPolicy {
  maxBytes: number;
  types: Set<string>;
  orphanHours: number;
}

export function attachmentPolicy(
  env: Pick<Env, "ATTACHMENT_MAX_BYTES" | "ATTACHMENT_TYPES" | "ATTACHMENT_ORPHAN_HOURS">,
): AttachmentPolicy {
  return {
    maxBytes: positiveSetting(env, "ATTACHMENT_MAX_BYTES"),
    types: new Set(
      (env.ATTACHMENT_TYPES ?? "")
        .split(",")
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    ),
    orphanHours: orphanHours(env),
  };
}

export function orphanHours(env: Pick<Env, "ATTACHMENT_ORPHAN_HOURS">): number {
  return positiveSetting(env, "ATTACHMENT_ORPHAN_HOURS");
}

/**
 * Uploads created before this time may no longer go into a message: the sweep is about to take them.
 * The margin (an hour, or half the window when it is shorter) leaves time for the message to reach
 * Postgres, where 'sent' protects it, before the sweep looks.
 */
export function claimableAfter(env: Pick<Env, "ATTACHMENT_ORPHAN_HOURS">, now: number): number {
  const windowMs = orphanHours(env) * 3_600_000;
  return now - (windowMs - Math.min(3_600_000, windowMs / 2));
}

/** `image/PNG; charset=x` → `image/png`. */
export function mediaType(header: string | undefined | null): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * A filename safe to store and to echo in headers: no directories, no control or quote characters,
 * no leading dots, at most 200 characters; "file" when nothing is left.
 */
export function sanitizeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const cleaned = base
    .normalize("NFC")
    .replace(/[\p{Cc}\p{Cf}"<>|:*?]/gu, "_")
    .replace(/^[.\s]+/, "")
    .trim()
    .slice(0, 200);
  return cleaned || "file";
}

/** Raster images are shown inline; everything else downloads. (SVG is never inline: it can carry script.) */
const INLINE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function contentDisposition(filename: string, contentType: string): string {
  const kind = INLINE.has(contentType) ? "inline" : "attachment";
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** A single `bytes=` range against a file of `size` bytes; "invalid" when it cannot be satisfied. */
export function parseRange(
  header: string | undefined,
  size: number,
): { offset: number; length: number } | null | "invalid" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return "invalid";
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "invalid";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "invalid";
  return { offset: start, length: end - start + 1 };
}
