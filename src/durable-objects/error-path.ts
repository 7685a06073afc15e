/**
 * The one error path of every room handler (fetch, frames, close, alarm, RPC): a throw is logged once
 * with an incident id, and the caller gets an answer naming that id (an `error` frame, a 500, or the
 * rethrown error for RPC callers) instead of silence. Commands run in one transaction, so a throw
 * leaves nothing half-written behind.
 */
import { logJson } from "../lib/log";

export interface GuardOptions<T> {
  /** What the caller gets instead of the error; without it the error is rethrown (RPC callers see it). */
  fallback?: (incident: string) => T;
  /** Extra fields for the log line (a frame's ref, the connection id); never bodies or tokens. */
  context?: () => Record<string, unknown>;
}

export async function guarded<T>(
  handler: string,
  roomId: string | null,
  fn: () => Promise<T> | T,
  options: GuardOptions<T> = {},
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const incident = crypto.randomUUID().slice(0, 8);
    const error = err instanceof Error ? err : new Error(String(err));
    logJson("error", {
      msg: "room handler failed",
      handler,
      roomId,
      incident,
      ...safeContext(options.context),
      error: error.message,
      stack: error.stack?.split("\n").slice(0, 6).join("\n"),
    });
    if (options.fallback) return options.fallback(incident);
    throw error;
  }
}

function safeContext(context: (() => Record<string, unknown>) | undefined): Record<string, unknown> {
  try {
    return context?.() ?? {};
  } catch {
    return {};
  }
}
