import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRoom, createUser } from "../helpers/fixtures";
import { useSocketPool } from "../helpers/sockets";

/** Integration: the room's life in the logs, read from what the room prints (one JSON object a line). */
afterEach(() => vi.restoreAllMocks());
const pool = useSocketPool();

function roomLines(spy: { mock: { calls: unknown[][] } }, roomId: string): Record<string, unknown>[] {
  return spy.mock.calls
    .map((args) => String(args[0]))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.roomId === roomId);
}

describe("the room's structured log (integration)", () => {
  it("logs connect, accepted, throttled, refused and disconnect with the upgrade's request id, never bodies or tokens", async () => {
    const spy = vi.spyOn(console, "log");
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const socket = await pool.connect(room.id, ana.token, { "x-request-id": "req-from-upgrade" });
    await socket.next("welcome");
    const secret = "a body that must never be logged";
    for (let i = 0; i < 4; i++) socket.send({ type: "send", clientMsgId: `l${i}`, body: secret });
    for (let i = 0; i < 3; i++) await socket.next("ack");
    await socket.next("throttled");
    socket.send('{"type":"dance"}');
    await socket.next("error");
    socket.ws.close(1000, "bye");
    await vi.waitUntil(() => roomLines(spy, room.id).some((l) => l.msg === "socket disconnected"), { timeout: 3000 });

    const lines = roomLines(spy, room.id);
    const byMsg = (msg: string) => lines.filter((l) => l.msg === msg);
    expect(byMsg("socket connected")[0]).toMatchObject({
      level: "info",
      userId: ana.id,
      auth: "bearer",
      requestId: "req-from-upgrade",
    });
    expect(typeof byMsg("socket connected")[0]?.connId).toBe("string");
    expect(byMsg("message accepted").map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(byMsg("message accepted")[0]).toMatchObject({ bodyLength: secret.length, requestId: "req-from-upgrade" });
    expect(typeof byMsg("message accepted")[0]?.commitMs).toBe("number");
    expect(byMsg("send throttled")[0]).toMatchObject({ userId: ana.id });
    expect(byMsg("frame refused")[0]).toMatchObject({ code: "unknown_frame_type" });
    expect(byMsg("socket disconnected")[0]).toMatchObject({ code: 1000, reason: "bye" });
    expect(typeof byMsg("socket disconnected")[0]?.durationMs).toBe("number");
    const all = JSON.stringify(lines);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(ana.token);
    expect(env.LOG_LEVEL ?? "info").toBe("info");
  });
});
