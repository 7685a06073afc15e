/**
 * Upload abuse: size lies, content-type tricks and path traversal in names. Each is a clean 4xx (or a
 * harmless, sanitised acceptance) and the worker keeps answering.
 */
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attachments } from "../../src/db/attachment-schema";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

async function put(id: string, token: string, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(`http://edgechat.test/api/attachments/${id}/content`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/plain", ...headers },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function setup() {
  const ana = await createUser("ana");
  const eve = await createUser("eve");
  const room = await createRoom(ana.id);
  const announce = (file: Record<string, unknown>) => api("POST", `/api/rooms/${room.id}/attachments`, ana.token, file);
  return { ana, eve, room, announce };
}

describe("upload abuse", () => {
  it("refuses size lies: short, long, and a full PUT after a short one; nothing half-stored", async () => {
    const { ana, eve, announce } = await setup();
    const ten = { filename: "ten.txt", contentType: "text/plain", size: 10 };
    const a = (await announce(ten)).json.attachment.id as string;
    expect(await put(a, ana.token, "12345")).toBe(400);
    expect(await put(a, eve.token, "1234567890")).toBe(404);
    const full = await put(a, ana.token, "1234567890");
    expect(full === 200 || (full >= 400 && full < 500), `status ${full}`).toBe(true);
    const b = (await announce(ten)).json.attachment.id as string;
    expect([400, 413]).toContain(await put(b, ana.token, "12345678901234567890"));
    const [row] = await db().select().from(attachments).where(eq(attachments.id, b));
    expect(row?.state).toBe("pending");
    // A Content-Length that lies about the body.
    const c = (await announce(ten)).json.attachment.id as string;
    expect([400, 413]).toContain(await put(c, ana.token, "1234567890", { "content-length": "99999999999" }));
    for (const size of [0, -1, 1.5, 1e300, "10"]) {
      expect((await announce({ ...ten, size })).status, String(size)).toBe(400);
    }
    expect((await api("GET", "/health/live")).status).toBe(200);
  });

  it("refuses scriptable and unlisted types however they are spelled, and bytes of another type", async () => {
    const { ana, announce } = await setup();
    for (const contentType of [
      "text/html",
      "image/svg+xml",
      "application/xhtml+xml",
      "text/javascript",
      "application/x-msdownload",
      "TEXT/HTML; charset=utf-8",
    ]) {
      expect((await announce({ filename: "x", contentType, size: 3 })).status, contentType).toBe(415);
    }
    const id = (await announce({ filename: "x.txt", contentType: "text/plain", size: 6 })).json.attachment.id;
    expect([400, 409, 415]).toContain(await put(id, ana.token, "<html>", { "content-type": "text/html" }));
  });

  it("keeps path traversal and control characters out of names and storage keys", async () => {
    const { ana, room, announce } = await setup();
    const names = [
      "../../etc/passwd",
      "..\\..\\boot.ini",
      "/abs/path.txt",
      "\u202etxt.exe",
      'a"b<c>.txt',
      "...",
      "\u0000x",
    ];
    for (const filename of names) {
      const res = await announce({ filename, contentType: "text/plain", size: 1 });
      if (res.status !== 201) {
        expect(res.status, filename).toBe(400);
        continue;
      }
      const stored = res.json.attachment.filename as string;
      // Control and format characters (\p{Cc}, \p{Cf}: NUL, RTL override) are what make names lie.
      expect(stored, filename).not.toMatch(/[/\\\p{Cc}\p{Cf}"<>]|^\./u);
      const [row] = await db().select().from(attachments).where(eq(attachments.id, res.json.attachment.id));
      expect(row?.r2Key).toBe(`rooms/${room.id}/${row?.id}`);
    }
    // A download is never rendered as a page of the app's origin.
    const id = (await announce({ filename: "n.txt", contentType: "text/plain", size: 2 })).json.attachment.id;
    expect(await put(id, ana.token, "hi")).toBe(200);
    const dl = await exports.default.fetch(`http://edgechat.test/api/attachments/${id}`, {
      headers: { authorization: `Bearer ${ana.token}` },
    });
    await dl.arrayBuffer();
    expect(dl.headers.get("x-content-type-options")).toBe("nosniff");
    expect(dl.headers.get("content-security-policy")).toContain("sandbox");
  });
});
