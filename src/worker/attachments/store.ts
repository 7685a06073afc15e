/**
 * Streams an upload into R2 without holding it in memory: each chunk is counted (refusing more than
 * declared), fed to a SHA-256 digest and written into a FixedLengthStream, whose length R2 needs up
 * front. If the body is too long or too short the write side is aborted, R2's put fails, and nothing is
 * stored (a put is all or nothing; the delete afterwards is belt and braces).
 */
export class UploadTooLarge extends Error {}
export class UploadIncomplete extends Error {}

export async function streamToR2(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  size: number,
  contentType: string,
): Promise<{ sha256: string }> {
  const digest = new crypto.DigestStream("SHA-256");
  const hash = digest.getWriter();
  const fixed = new FixedLengthStream(size);
  const out = fixed.writable.getWriter();
  const stored = bucket.put(key, fixed.readable, { httpMetadata: { contentType } });
  // Read by hand rather than pipeThrough: on a refusal the request body is cancelled and R2's side
  // aborted explicitly, with no background pipe left to fail on its own.
  const reader = body.getReader();
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (seen > size) throw new UploadTooLarge(`more than the declared ${size} bytes`);
      await Promise.all([out.write(value), hash.write(value)]);
    }
    if (seen < size) throw new UploadIncomplete(`${seen} of ${size} bytes arrived`);
    await out.close();
    await stored;
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    await out.abort(err).catch(() => undefined);
    await stored.catch(() => undefined);
    await bucket.delete(key).catch(() => undefined);
    throw err;
  }
  await hash.close();
  const bytes = new Uint8Array(await digest.digest);
  return { sha256: [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("") };
}
