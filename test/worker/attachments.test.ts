/** Attachments on R2: announce, streamed upload, download with ranges and ETag, sending, deletion, the sweep. */
import {
  createExecutionContext,
  createScheduledController,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attachments } from "../../src/db/attachment-schema";
import { contentDisposition, parseRange, sanitizeFilename } from "../../src/lib/attachment-policy";
import worker from "../../src/worker";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

async function put(id: string, token: string, body: BodyInit, contentType: string) {
  const res = await exports.default.fetch(`http://edgechat.test/api/attachments/${id}/content`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body,
    // @ts-expect-error workerd accepts duplex for streamed request bodies
    duplex: "half",
  });
  return { status: res.status, json: (await res.json()) as Record<string, never> };
}

async function download(id: string, token: string, headers: Record<string, string> = {}) {
  return exports.default.fetch(`http://edgechat.test/api/attachments/${id}`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  });
}

async function setup() {
  const ana = await createUser("ana");
  const ben = await createUser("ben");
  const room = await createRoom(ana.id, [ben.id]);
  return { ana, ben, room };
}

async function announce(roomId: string, token: string, file: { filename: string; contentType: string; size: number }) {
  return api("POST", `/api/rooms/${roomId}/attachments`, token, file);
}

async function uploaded(roomId: string, token: string, bytes: Uint8Array, contentType = "application/pdf") {
  const created = await announce(roomId, token, { filename: "report.pdf", contentType, size: bytes.byteLength });
  expect(created.status).toBe(201);
  const id = created.json.attachment.id as string;
  const done = await put(id, token, bytes, contentType);
  expect(done.status).toBe(200);
  return { id, done };
}

describe("upload and download", () => {
  it("round-trips a multi-megabyte file with its checksum, into a message members can open", async () => {
    const { ana, ben, room } = await setup();
    const bytes = randomBytes(6 * 1024 * 1024 + 123);
    const created = await announce(room.id, ana.token, {
      filename: "../../etc/Q3 report.pdf",
      contentType: "application/pdf",
      size: bytes.byteLength,
    });
    expect(created.status).toBe(201);
    expect(created.json.attachment).toMatchObject({ filename: "Q3 report.pdf", state: "pending" });
    expect(created.json.upload.url).toBe(`/api/attachments/${created.json.attachment.id}/content`);
    const id = created.json.attachment.id as string;
    const done = await put(id, ana.token, bytes, "application/pdf");
    expect(done.status).toBe(200);
    expect(done.json.attachment).toMatchObject({ state: "uploaded", sha256: await hex(bytes), size: bytes.byteLength });

    const sent = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "with-file",
      body: "",
      attachments: [id],
    });
    expect(sent.status).toBe(201);
    expect(sent.json.message.attachments).toEqual([
      { id, filename: "Q3 report.pdf", contentType: "application/pdf", size: bytes.byteLength },
    ]);
    await drainOutbox(room.id);
    const history = await api("GET", `/api/rooms/${room.id}/messages`, ben.token);
    expect(history.json.messages[0].attachments[0].id).toBe(id);

    const res = await download(id, ben.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("content-length")).toBe(String(bytes.byteLength));
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Q3 report.pdf"; filename*=UTF-8''Q3%20report.pdf`,
    );
    expect(res.headers.get("etag")).toBe(`"${await hex(bytes)}"`);
    expect(await hex(new Uint8Array(await res.arrayBuffer()))).toBe(await hex(bytes));
    const [row] = await db().select().from(attachments).where(eq(attachments.id, id));
    expect(row).toMatchObject({
      state: "sent",
      messageSeq: sent.json.message.seq,
      uploaderId: ana.id,
      roomId: room.id,
    });

    const again = await download(id, ben.token, { "if-none-match": `"${await hex(bytes)}"` });
    expect(again.status).toBe(304);
  });

  it("serves byte ranges, and images inline", async () => {
    const { ana, room } = await setup();
    const bytes = randomBytes(1000);
    const { id } = await uploaded(room.id, ana.token, bytes, "image/png");
    const part = await download(id, ana.token, { range: "bytes=100-199" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/1000");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(100, 200));
    const tail = await download(id, ana.token, { range: "bytes=-10" });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.slice(990));
    const open = await download(id, ana.token, { range: "bytes=990-" });
    expect(open.headers.get("content-range")).toBe("bytes 990-999/1000");
    await open.arrayBuffer();
    const bad = await download(id, ana.token, { range: "bytes=5000-6000" });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */1000");
    const whole = await download(id, ana.token);
    expect(whole.headers.get("content-disposition")).toMatch(/^inline;/);
    await whole.arrayBuffer();
  });
});

describe("refusals", () => {
  it("refuses files over the limit, before and while streaming, leaving nothing stored", async () => {
    const { ana, room } = await setup();
    const tooBig = await announce(room.id, ana.token, {
      filename: "huge.zip",
      contentType: "application/zip",
      size: Number(env.ATTACHMENT_MAX_BYTES) + 1,
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.error.code).toBe("payload_too_large");

    const created = await announce(room.id, ana.token, {
      filename: "a.zip",
      contentType: "application/zip",
      size: 1000,
    });
    const id = created.json.attachment.id as string;
    expect((await put(id, ana.token, randomBytes(2000), "application/zip")).status).toBe(413);
    // A streamed body carries no length up front: the limit is enforced while the bytes flow.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(randomBytes(600));
        controller.enqueue(randomBytes(600));
        controller.close();
      },
    });
    const streamed = await put(id, ana.token, stream, "application/zip");
    expect(streamed.status).toBe(413);
    const short = await put(id, ana.token, randomBytes(10), "application/zip");
    expect(short.status).toBe(400);
    const [row] = await db().select().from(attachments).where(eq(attachments.id, id));
    expect(row?.state).toBe("pending");
    expect(await env.ATTACHMENTS.head(row?.r2Key ?? "")).toBeNull();
  });

  it("refuses types not on the list, and bytes of another type than announced", async () => {
    const { ana, room } = await setup();
    const exe = await announce(room.id, ana.token, {
      filename: "x.exe",
      contentType: "application/x-msdownload",
      size: 10,
    });
    expect(exe.status).toBe(415);
    expect(exe.json.error.code).toBe("unsupported_media_type");
    const created = await announce(room.id, ana.token, { filename: "a.txt", contentType: "text/plain", size: 3 });
    expect((await put(created.json.attachment.id, ana.token, "abc", "text/html")).status).toBe(415);
    expect((await put(created.json.attachment.id, ana.token, "abc", "text/plain; charset=utf-8")).status).toBe(200);
    expect((await put(created.json.attachment.id, ana.token, "abc", "text/plain")).status).toBe(409);
  });

  it("hides files from non-members, and unsent files from everyone but their uploader", async () => {
    const { ana, ben, room } = await setup();
    const stranger = await createUser("stranger");
    const { id } = await uploaded(room.id, ana.token, randomBytes(100));
    expect((await download(id, ben.token)).status).toBe(404);
    const mine = await download(id, ana.token);
    expect(mine.status).toBe(200);
    await mine.arrayBuffer();
    await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "f",
      body: "file",
      attachments: [id],
    });
    for (const token of [stranger.token]) {
      const res = await download(id, token);
      expect(res.status).toBe(404);
    }
    expect((await download(crypto.randomUUID(), ben.token)).status).toBe(404);
    expect(
      (await announce(room.id, stranger.token, { filename: "a.txt", contentType: "text/plain", size: 3 })).status,
    ).toBe(404);
    expect((await put(id, stranger.token, "abc", "application/pdf")).status).toBe(404);
  });

  it("refuses to send an attachment that is not the sender's, not uploaded, or already sent", async () => {
    const { ana, ben, room } = await setup();
    const { id } = await uploaded(room.id, ana.token, randomBytes(10));
    const pending = (await announce(room.id, ana.token, { filename: "p.pdf", contentType: "application/pdf", size: 5 }))
      .json.attachment.id;
    const send = (token: string, clientMsgId: string, ids: string[]) =>
      api("POST", `/api/rooms/${room.id}/messages`, token, { clientMsgId, body: "x", attachments: ids });
    expect((await send(ben.token, "b1", [id])).status).toBe(422);
    expect((await send(ana.token, "a1", [pending])).status).toBe(422);
    expect((await send(ana.token, "a2", [id, id])).status).toBe(400);
    expect((await send(ana.token, "a3", [id])).status).toBe(201);
    expect((await send(ana.token, "a4", [id])).status).toBe(422);

    const socket = await pool.join(room.id, ben.token);
    socket.send({ type: "send", clientMsgId: "ws1", body: "", attachments: [id] });
    expect(await socket.next("error")).toMatchObject({ code: "unprocessable" });
    socket.send({ type: "send", clientMsgId: "ws2", body: "" });
    expect(await socket.next("error")).toMatchObject({ code: "bad_frame" });
  });

  it("refuses an upload the orphan sweep is about to take", async () => {
    const { ana, room } = await setup();
    const { id } = await uploaded(room.id, ana.token, randomBytes(10));
    const aged = Date.now() - 23.5 * 3_600_000;
    await runInDurableObject(stubFor(room.id), (_instance, state) => {
      state.storage.sql.exec("UPDATE room_attachments SET created_at = ? WHERE id = ?", aged, id);
    });
    const res = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "late",
      body: "x",
      attachments: [id],
    });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toMatch(/expired/);
  });

  it("a retried PUT tells the room again when the first announcement was lost", async () => {
    const { ana, room } = await setup();
    const bytes = randomBytes(10);
    const { id } = await uploaded(room.id, ana.token, bytes);
    // As if the room object had failed between the bytes landing in R2 and hearing about them.
    await runInDurableObject(stubFor(room.id), (_instance, state) => {
      state.storage.sql.exec("DELETE FROM room_attachments WHERE id = ?", id);
    });
    expect((await put(id, ana.token, bytes, "application/pdf")).status).toBe(409);
    const res = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "retried",
      body: "x",
      attachments: [id],
    });
    expect(res.status).toBe(201);
  });
});

describe("deletion and the sweep", () => {
  it("deleting a message tombstones its files; the sweep removes their bytes and never-sent uploads", async () => {
    const { ana, ben, room } = await setup();
    const sentFile = await uploaded(room.id, ana.token, randomBytes(50));
    const orphan = await uploaded(room.id, ana.token, randomBytes(60));
    const recent = await uploaded(room.id, ana.token, randomBytes(70));
    const msg = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: "doomed",
      body: "see file",
      attachments: [sentFile.id],
    });
    expect((await api("DELETE", `/api/messages/${room.id}/${msg.json.message.seq}`, ana.token)).status).toBe(204);
    await drainOutbox(room.id);
    expect((await download(sentFile.id, ben.token)).status).toBe(404);
    await db()
      .update(attachments)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(eq(attachments.id, orphan.id));

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    const rows = await db().select().from(attachments).where(eq(attachments.roomId, room.id));
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(sentFile.id)).toMatchObject({ state: "deleted" });
    expect(byId.get(orphan.id)).toMatchObject({ state: "deleted" });
    expect(byId.get(recent.id)).toMatchObject({ state: "uploaded", purgedAt: null });
    for (const gone of [sentFile.id, orphan.id]) {
      expect(byId.get(gone)?.purgedAt).not.toBeNull();
      expect(await env.ATTACHMENTS.head(byId.get(gone)?.r2Key ?? "")).toBeNull();
    }
    expect(await env.ATTACHMENTS.head(byId.get(recent.id)?.r2Key ?? "")).not.toBeNull();
  });
});

describe("file names, dispositions and ranges (pure)", () => {
  it("sanitises names", () => {
    expect(sanitizeFilename("../../etc/passwd")).toBe("passwd");
    expect(sanitizeFilename("C:\\Users\\x\\evil.exe")).toBe("evil.exe");
    expect(sanitizeFilename('a"b<c>.txt')).toBe("a_b_c_.txt");
    expect(sanitizeFilename("...hidden")).toBe("hidden");
    expect(sanitizeFilename("line\nbreak\u202e.txt")).toBe("line_break_.txt");
    expect(sanitizeFilename("////")).toBe("file");
    expect(sanitizeFilename("x".repeat(300))).toHaveLength(200);
  });

  it("quotes non-ASCII names both ways", () => {
    expect(contentDisposition("résumé.pdf", "application/pdf")).toBe(
      `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`,
    );
  });

  it("parses single byte ranges", () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange("bytes=0-4", 10)).toEqual({ offset: 0, length: 5 });
    expect(parseRange("bytes=5-100", 10)).toEqual({ offset: 5, length: 5 });
    expect(parseRange("bytes=-3", 10)).toEqual({ offset: 7, length: 3 });
    expect(parseRange("bytes=-30", 10)).toEqual({ offset: 0, length: 10 });
    for (const bad of ["bytes=10-", "bytes=5-2", "bytes=-0", "bytes=-", "items=0-1", "bytes=0-1,3-4"]) {
      expect(parseRange(bad, 10), bad).toBe("invalid");
    }
  });
});
