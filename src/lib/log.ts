/** Structured JSON logs, one object per line. Callers must never pass tokens, passwords or secrets. */
type Level = "info" | "warn" | "error";
const RANK: Record<Level, number> = { info: 0, warn: 1, error: 2 };
let threshold = 0;

/**
 * LOG_LEVEL from the deployment (info by default). Set at each entry point (worker events, the room's
 * constructor): the isolate is shared, and every entry reads the same deployment's vars.
 */
export function setLogLevel(level: string | undefined): void {
  threshold = RANK[level as Level] ?? 0;
}

export function logJson(level: Level, fields: Record<string, unknown>): void {
  if (RANK[level] < threshold) return;
  const line = JSON.stringify({ level, time: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
