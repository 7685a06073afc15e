/**
 * Refused uploads (issue 22, defect 1): every refusal is a clean 4xx with its code, nothing is stored, and the
 * refused body is read to its end rather than cancelled. Under `wrangler dev` a cancelled request body left
 * the proxy's keep-alive connection to the worker broken, so the next request on it failed with "Network
 * connection lost" and wrangler exited; the tracked bodies below show whether a body was drained or cancelled.
 */
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attachments } from "../../src/db/attachment-schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

const KIB = 1024;

/** A request body served in small pulls, recording how far it was read and whether it was cancelled. */
function trackedBody(size: number) {
  const state = { delivered: 0, ended: false, cancelled: false };
  const chunk = 16 * KIB;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.delivered >= size) {
        state.ended = true;
        controller.close();
        return;
      }
      const n = Math.min(chunk, size - state.delivered);
      state.delivered += n;
      controller.enqueue(new Uint8Array(n).fill(0x61));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

async function put(id: string, token: string, size: number, opts: { contentType?: string; withLength?: boolean } = {}) {
  const { stream, state } = trackedBody(size);
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    "content-type": opts.contentType ?? "text/plain",
  };
  // With a length the handler can refuse before reading; without one it finds out while streaming.
  if (opts.withLength !== false) headers["content-length"] = String(size);
  const res = await exports.default.fetch(`http://edgechat.test/api/attachments/${id}/content`, {
    method: "PUT",
    headers,
    body: stream,
    // @ts-expect-error workerd accepts duplex for streamed request bodies
    duplex: "half",
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code, state };
}

async function setup(size: number) {
  const ana = await createUser("ana");
  const ben = await createUser("ben");
  const room = await createRoom(ana.id, [ben.id]);
  const created = await api("POST", `/api/rooms/${room.id}/attachments`, ana.token, {
    filename: "notes.txt",
    contentType: "text/plain",
    size,
  });
  expect(created.status).toBe(201);
  return { ana, ben, room, id: created.json.attachment.id as string };
}

async function nothingStored(id: string) {
  const [row] = await db().select().from(attachments).where(eq(attachments.id, id));
  expect(row).toMatchObject({ state: "pending", sha256: null, uploadedAt: null });
  expect(await env.ATTACHMENTS.head(row?.r2Key ?? "")).toBeNull();
}

async function stillServes() {
  const health = await exports.default.fetch("http://edgechat.test/health");
  expect(health.status).toBe(200);
  await health.arrayBuffer();
}

describe("refused uploads are drained, not cancelled, and store nothing", () => {
  const size = 256 * KIB;

  it("a body shorter than announced (400), then the right one (200)", async () => {
    const { ana, id } = await setup(size);
    const short = await put(id, ana.token, size / 2);
    expect(short).toMatchObject({ status: 400, code: "bad_request" });
    expect(short.state).toMatchObject({ ended: true, cancelled: false });
    await nothingStored(id);
    await stillServes();
    const right = await put(id, ana.token, size);
    expect(right).toMatchObject({ status: 200 });
    const stored = await env.ATTACHMENTS.head(`rooms/${(await rowOf(id)).roomId}/${id}`);
    expect(stored?.size).toBe(size);
  });

  it("a body longer than announced, declared (413) or found while streaming (413)", async () => {
    const { ana, id } = await setup(size);
    const declared = await put(id, ana.token, size * 2);
    expect(declared).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(declared.state).toMatchObject({ ended: true, cancelled: false });
    const streamed = await put(id, ana.token, size * 2, { withLength: false });
    expect(streamed).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(streamed.state).toMatchObject({ ended: true, cancelled: false });
    const streamedShort = await put(id, ana.token, size - 1, { withLength: false });
    expect(streamedShort).toMatchObject({ status: 400, code: "bad_request" });
    await nothingStored(id);
    await stillServes();
  });

  it("someone else's upload (404), an unknown or malformed id (404), the wrong type (415)", async () => {
    const { ben, ana, id } = await setup(size);
    const theirs = await put(id, ben.token, size);
    expect(theirs).toMatchObject({ status: 404, code: "not_found" });
    expect(theirs.state).toMatchObject({ ended: true, cancelled: false });
    for (const other of [crypto.randomUUID(), "not-a-uuid"]) {
      const res = await put(other, ana.token, size);
      expect(res).toMatchObject({ status: 404, code: "not_found" });
      expect(res.state).toMatchObject({ ended: true, cancelled: false });
    }
    const wrongType = await put(id, ana.token, size, { contentType: "image/png" });
    expect(wrongType).toMatchObject({ status: 415, code: "unsupported_media_type" });
    expect(wrongType.state).toMatchObject({ ended: true, cancelled: false });
    await nothingStored(id);
    await stillServes();
  });

  it("bytes already uploaded (409): drained, the stored bytes untouched", async () => {
    const { ana, id } = await setup(size);
    expect((await put(id, ana.token, size)).status).toBe(200);
    const again = await put(id, ana.token, size);
    expect(again).toMatchObject({ status: 409, code: "conflict" });
    expect(again.state).toMatchObject({ ended: true, cancelled: false });
    expect((await rowOf(id)).state).toBe("uploaded");
    await stillServes();
  });
});

async function rowOf(id: string) {
  const [row] = await db().select().from(attachments).where(eq(attachments.id, id));
  if (!row) throw new Error(`no attachment ${id}`);
  return row;
}
