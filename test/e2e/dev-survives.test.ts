/**
 * `npm run dev` as a shared server must not be ended by a client (issue 22, defect 1): refused uploads over
 * real HTTP through wrangler's proxy leave wrangler running, and when wrangler dies anyway (it exits on a
 * client hanging up mid-body, workers-sdk #15203) dev.ts restarts it with Postgres, Redis and the bridges kept.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, inject, it, vi } from "vitest";
import WebSocket from "ws";

const base = inject("e2eBaseUrl");
const devPid = inject("e2eDevPid");

/** The wrangler process dev.ts supervises (its only child). */
function wranglerPid(): number | null {
  let out: string;
  try {
    out = execFileSync("ps", ["-o", "pid=", "--ppid", String(devPid)], { encoding: "utf8" }).trim();
  } catch {
    return null; // ps exits 1 when there is no child: between a death and the restart
  }
  const pid = Number(out.split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading JSON bodies
  return { status: res.status, json: (await res.json().catch(() => null)) as any };
}

async function signUp(name: string): Promise<string> {
  const res = await call("POST", "/api/auth/register", undefined, {
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: "correct horse battery",
  });
  expect(res.status).toBe(201);
  return res.json.accessToken as string;
}

async function putBytes(id: string, token: string, text: string) {
  const res = await fetch(`${base}/api/attachments/${id}/content`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    body: text,
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code };
}

const healthy = () =>
  fetch(`${base}/health`).then(
    (r) => r.status === 200,
    () => false,
  );

describe("npm run dev survives", () => {
  it("refused uploads: a clean 4xx each, and the next request on the same connection is served", async () => {
    const before = wranglerPid();
    const ana = await signUp("ana");
    const ben = await signUp("ben");
    const room = await call("POST", "/api/rooms", ana, { name: "uploads" });
    const announce = async () => {
      const res = await call("POST", `/api/rooms/${room.json.room.id}/attachments`, ana, {
        filename: "a.txt",
        contentType: "text/plain",
        size: 10,
      });
      return res.json.attachment.id as string;
    };
    const id = await announce();
    expect(await putBytes(id, ana, "12345")).toEqual({ status: 400, code: "bad_request" });
    expect(await putBytes(id, ana, "123456789012345")).toEqual({ status: 413, code: "payload_too_large" });
    expect((await putBytes(id, ana, "1234567890")).status).toBe(200);
    expect(await putBytes(id, ana, "1234567890")).toEqual({ status: 409, code: "conflict" });
    expect(await putBytes(await announce(), ben, "1234567890")).toEqual({ status: 404, code: "not_found" });
    // Before the fix this request was the one that failed ("Network connection lost"), and wrangler exited.
    expect(await healthy()).toBe(true);
    expect(wranglerPid()).toBe(before);
  });

  it("refused upgrades: a 404 ticket request, then invalid-ticket upgrades left hanging, and wrangler stays", async () => {
    const before = wranglerPid();
    const token = await signUp("upgrader");
    const roomId = crypto.randomUUID();
    expect((await call("POST", `/api/rooms/${roomId}/ws-ticket`, token)).status).toBe(404);
    const statuses = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<number>((resolve) => {
            const ws = new WebSocket(`${base.replace("http", "ws")}/api/rooms/${roomId}/ws?ticket=bogus${i}`);
            // The refusal's socket is never read or closed by the client: left hanging, as in the attack run.
            ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
            ws.on("error", () => resolve(0));
          }),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(await healthy()).toBe(true);
    expect(wranglerPid()).toBe(before);
  });

  it("restarts wrangler when it dies, keeping the rest of the stack, and says so in one line", async () => {
    const before = wranglerPid();
    if (!before) throw new Error("no wrangler child under dev.ts");
    process.kill(before, "SIGKILL");
    await vi.waitUntil(async () => wranglerPid() !== before && (await healthy()), { timeout: 90_000, interval: 250 });
    const log = readFileSync(inject("e2eDevLog"), "utf8");
    expect(log).toContain("[dev] wrangler exited (signal SIGKILL); restarting it, the rest of the stack stays up");
    // Postgres and Redis came through it: a sign-up (Postgres) and the health check's Redis probe both work.
    await signUp("after-restart");
    const health = await call("GET", "/health");
    expect(health.json).toMatchObject({ status: "ok", down: [] });
  }, 120_000);
});
