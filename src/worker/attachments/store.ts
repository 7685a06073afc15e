/**
 * Streams an upload into R2 without holding it in memory: each chunk is counted (refusing more than
 * declared), fed to a SHA-256 digest and written into a FixedLengthStream, whose length R2 needs up
 * front. If the body is too long or too short the write side is aborted, R2's put fails, and nothing is
 * stored (a put is all or nothing; the delete afterwards is belt and braces).
 */
import { discardBody } from "./discard";

export class UploadTooLarge extends Error {}
export class UploadIncomplete extends Error {}

export async function streamToR2(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  size: number,
  contentType: string,
  /** How much of a refused body is read and dropped before giving up on it (see discard.ts). */
  discardLimit: number,
): Promise<{ sha256: string }> {
  const digest = new crypto.DigestStream("SHA-256");
  const hash = digest.getWriter();
  const fixed = new FixedLengthStream(size);
  const out = fixed.writable.getWriter();
  // Both settle as rejected on a refusal; that outcome is dealt with in the catch below.
  out.closed.catch(() => undefined);
  const stored = bucket.put(key, fixed.readable, { httpMetadata: { contentType } });
  // Handled from the start: the put rejects while the writer is being aborted, before `await stored` below.
  stored.catch(() => undefined);
  // Read by hand rather than pipeThrough: on a refusal R2's side is aborted explicitly and the rest of the
  // body drained here, with no background pipe left to fail on its own.
  const reader = body.getReader();
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read().catch(() => {
        // The client stopped sending (disconnect, reset): as far as we can tell, a short upload.
        throw new UploadIncomplete(`the body broke off after ${seen} of ${size} bytes`);
      });
      if (done) break;
      seen += value.byteLength;
      if (seen > size) throw new UploadTooLarge(`more than the declared ${size} bytes`);
      await Promise.all([out.write(value), hash.write(value)]);
    }
    if (seen < size) throw new UploadIncomplete(`${seen} of ${size} bytes arrived`);
    await out.close();
    await stored;
  } catch (err) {
    await out.abort(err).catch(() => undefined);
    await stored.catch(() => undefined);
    await discardBody(reader, Math.max(0, discardLimit - seen));
    await bucket.delete(key).catch(() => undefined);
    throw err;
  }
  await hash.close();
  const bytes = new Uint8Array(await digest.digest);
  return { sha256: [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("") };
}
