/**
 * Runs `fn` with a signal that aborts after `ms`, and clears the timer the moment `fn` settles.
 * `AbortSignal.timeout()` would leave its timer pending after the call, and a pending timer keeps a
 * Durable Object from hibernating (and delays eviction) for the full timeout.
 */
export async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms);
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}
