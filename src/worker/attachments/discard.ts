/**
 * Throwing away the rest of a refused upload. Cancelling the request body looks cheaper but is what took
 * `wrangler dev` down (issue 22, defect 1): a cancelled body counts as used, so wrangler's own "drain unused
 * bodies" middleware skips it, the unread bytes stay on the keep-alive connection between wrangler's proxy and
 * the worker, the next request on that connection fails with "Network connection lost", and wrangler treats
 * that as fatal. Reading to the end keeps the connection in step. In production an early answer is fine
 * either way; draining only costs receiving bytes the client was sending anyway, and only up to a bound.
 */
export async function discardBody(
  body: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array> | null | undefined,
  limit: number,
): Promise<void> {
  if (!body) return;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = "getReader" in body ? body.getReader() : body;
  } catch {
    return; // already locked or consumed by someone else: nothing left for us to drain
  }
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
      // A body larger than any upload may be is abuse, not a mistake: stop paying for it.
      if (seen > limit) break;
    }
  } catch {
    return; // the client went away; there is nothing left to read
  }
  await reader.cancel().catch(() => undefined);
}
