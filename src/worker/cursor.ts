import { AppError } from "../protocol/errors";

/** Opaque keyset cursor over (timestamp, uuid): newest-first pages that never skip or repeat a row. */
export function encodeCursor(at: string, id: string): string {
  return btoa(`${at}|${id}`).replaceAll("=", "");
}

export function decodeCursor(cursor: string | undefined): { at: string; id: string } | null {
  if (!cursor) return null;
  try {
    const [at, id] = atob(cursor).split("|");
    if (!at || !id || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/i.test(id)) throw new Error("bad cursor");
    return { at, id };
  } catch {
    throw new AppError(400, "validation_failed", "Invalid cursor", {
      details: [{ field: "cursor", message: "not a cursor from this API" }],
    });
  }
}
