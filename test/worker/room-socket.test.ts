import { evictDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createRoom, createUser } from "../helpers/fixtures";
import { stubFor } from "../helpers/rooms";
import { upgrade, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

describe("upgrade through the worker", () => {
  it("welcomes a member with the room, its last seq, who is online and who they are", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const socket = await pool.connect(room.id, ana.token);
    expect(await socket.next("welcome")).toEqual({
      type: "welcome",
      roomId: room.id,
      lastSeq: 0,
      version: 0,
      protocol: 1,
      online: [ana.id],
      you: ana.id,
    });
  });

  it("gives no 101 without a valid credential, with a Bearer challenge", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    for (const headers of [
      {} as Record<string, string>,
      { Authorization: "Bearer not.a.jwt" },
      { Authorization: `Basic ${btoa("a:b")}` },
    ]) {
      const res = await upgrade(room.id, headers);
      expect(res.status).toBe(401);
      expect(res.webSocket).toBeNull();
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });

  it("answers 404 to a non-member and for a room that does not exist, revealing nothing", async () => {
    const ana = await createUser("ana");
    const eve = await createUser("eve");
    const room = await createRoom(ana.id);
    const notMember = await upgrade(room.id, { Authorization: `Bearer ${eve.token}` });
    const missing = await upgrade(crypto.randomUUID(), { Authorization: `Bearer ${eve.token}` });
    const garbage = await upgrade("not-a-uuid", { Authorization: `Bearer ${eve.token}` });
    for (const res of [notMember, missing, garbage]) {
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
  });

  it("refuses a browser Origin that is not allowed with 403, and accepts an allowed one", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const res = await upgrade(room.id, { Authorization: `Bearer ${ana.token}`, Origin: "https://evil.example" });
    expect(res.status).toBe(403);
    const ok = await pool.connect(room.id, ana.token, { Origin: "http://localhost:8787" });
    expect((await ok.next("welcome")).you).toBe(ana.id);
  });

  it("answers 426 to a plain GET on the socket route", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const res = await exports.default.fetch(`http://edgechat.test/api/rooms/${room.id}/ws`, {
      headers: { Authorization: `Bearer ${ana.token}` },
    });
    expect(res.status).toBe(426);
  });

  it("ignores identity headers a client forges", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    const socket = await pool.connect(room.id, bob.token, {
      "X-Edgechat-User-Id": ana.id,
      "X-Edgechat-Room-Id": crypto.randomUUID(),
    });
    expect(await socket.next("welcome")).toMatchObject({ you: bob.id, roomId: room.id });
  });
});

describe("hibernation", () => {
  it("keeps sockets and their identity across eviction; the woken room still routes frames", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    const a = await pool.connect(room.id, ana.token);
    const b = await pool.connect(room.id, bob.token);
    await a.next("welcome");
    expect(await a.next("presence")).toEqual({ type: "presence", userId: bob.id, state: "joined" });

    const stub = stubFor(room.id);
    await evictDurableObject(stub);

    a.send({ type: "typing", on: true });
    expect(await b.next("typing")).toEqual({ type: "typing", userId: ana.id, on: true });
    const stats = await stub.stats();
    expect(stats).toMatchObject({ roomId: room.id, sockets: 2 });
    expect(stats.online.sort()).toEqual([ana.id, bob.id].sort());
  });

  it("answers the heartbeat without waking the room", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const a = await pool.connect(room.id, ana.token);
    await a.next("welcome");
    const stub = stubFor(room.id);
    await evictDurableObject(stub);
    a.send('{"type":"ping"}');
    expect(await a.next("pong")).toEqual({ type: "pong" });
    // Still evicted: a second eviction fails because nothing is running.
    await expect(evictDurableObject(stub)).rejects.toThrow(/not currently running/);
  });

  it("tells the others when the last socket of a user leaves, once, and not before", async () => {
    const ana = await createUser("ana");
    const bob = await createUser("bob");
    const room = await createRoom(ana.id, [bob.id]);
    const a = await pool.connect(room.id, ana.token);
    const b1 = await pool.connect(room.id, bob.token);
    const b2 = await pool.connect(room.id, bob.token);
    await a.next("welcome");
    expect(await a.next("presence")).toMatchObject({ userId: bob.id, state: "joined" });
    const stub = stubFor(room.id);
    b1.close();
    await vi.waitUntil(async () => (await stub.stats()).sockets === 2, { timeout: 3000, interval: 20 });
    expect((await stub.stats()).online.sort()).toEqual([ana.id, bob.id].sort());
    b2.close();
    expect(await a.next("presence")).toEqual({ type: "presence", userId: bob.id, state: "left" });
    // A later frame from the room proves nothing else about bob was still on its way.
    a.send({ type: "typing", on: true });
    a.send({ type: "ping", extra: true });
    await a.next("error");
    expect(a.frames.filter((f) => f.type === "presence")).toEqual([]);
  });
});

describe("bad frames", () => {
  it("answers bad frames with an error frame and keeps the socket open", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const a = await pool.connect(room.id, ana.token);
    await a.next("welcome");
    const cases: [unknown, string][] = [
      ["not json", "bad_frame"],
      [{ type: "nope" }, "unknown_frame_type"],
      [{ type: "typing" }, "bad_frame"],
      [{ type: "typing", on: true, extra: 1 }, "bad_frame"],
      [{ type: "typing", on: "yes" }, "bad_frame"],
      [[1, 2], "unknown_frame_type"],
    ];
    for (const [frame, code] of cases) {
      a.send(frame);
      expect(await a.next("error")).toMatchObject({ code });
    }
    a.ws.send(new Uint8Array([1, 2, 3]));
    expect(await a.next("error")).toMatchObject({ code: "bad_frame" });
    a.send({ type: "ping", id: 1 });
    expect(await a.next("error")).toMatchObject({ code: "bad_frame" });
    a.send({ type: "typing", on: false });
    a.send({ type: "ping" });
    expect(await a.next("pong")).toEqual({ type: "pong" });
    expect(a.closed).toBeNull();
  });

  it("rejects bad sends with an error frame naming the message, and stores nothing", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const a = await pool.connect(room.id, ana.token);
    await a.next("welcome");
    const cases: [unknown, string][] = [
      [{ type: "send", clientMsgId: "long", body: "x".repeat(4001) }, "body: at most 4000 characters"],
      [{ type: "send", clientMsgId: "empty", body: "   " }, "body: must not be empty"],
      [{ type: "send", clientMsgId: "extra", body: "hi", senderId: ana.id }, "senderId"],
      [{ type: "send", clientMsgId: "seq", body: "hi", seq: 5 }, "seq"],
      [{ type: "send", body: "no id" }, "clientMsgId"],
      [{ type: "send", clientMsgId: "bad id with spaces", body: "hi" }, "clientMsgId"],
      [{ type: "send", clientMsgId: "reply", body: "hi", replyTo: -1 }, "replyTo"],
    ];
    for (const [frame, mentions] of cases) {
      a.send(frame);
      const error = await a.next("error");
      expect(error.code).toBe("bad_frame");
      expect(error.message).toContain(mentions);
    }
    a.send({ type: "send", clientMsgId: "fine", body: "x".repeat(4000) });
    expect(await a.next("ack")).toMatchObject({ clientMsgId: "fine", seq: 1 });
    expect((await stubFor(room.id).stats()).lastSeq).toBe(1);
  });

  it("closes with 1009 on a frame over 64 KiB", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const a = await pool.connect(room.id, ana.token);
    await a.next("welcome");
    a.send({ type: "typing", on: true, pad: "x".repeat(65 * 1024) });
    expect((await a.waitClosed()).code).toBe(1009);
  });
});

describe("presence in a connect storm", () => {
  it("announces a burst of joins in fewer frames than joins, each user in the state they end in", async () => {
    const ana = await createUser("ana");
    const others = await Promise.all(["bo", "cy", "di", "ed", "fa", "gu"].map((name) => createUser(name)));
    const room = await createRoom(
      ana.id,
      others.map((u) => u.id),
    );
    const a = await pool.connect(room.id, ana.token);
    await a.next("welcome");
    const sockets = await Promise.all(others.map((u) => pool.connect(room.id, u.token)));
    // Gone again within the burst: whatever was announced first, the last word on it must be `left`.
    sockets[0]?.close();
    const expected = new Map(others.map((u, i) => [u.id, i === 0 ? "left" : "joined"]));
    const seen = new Map<string, string>();
    let frames = 0;
    await vi.waitUntil(
      () => {
        for (const f of a.frames.splice(0)) {
          if (f.type === "presence") seen.set(f.userId as string, f.state as string);
          else if (f.type === "presence.batch")
            for (const c of f.changes as { userId: string; state: string }[]) seen.set(c.userId, c.state);
          else continue;
          frames++;
        }
        return [...expected].every(([id, state]) => seen.get(id) === state);
      },
      { timeout: 3000, interval: 20 },
    );
    expect(frames).toBeLessThan(others.length);
    expect(seen.has(ana.id)).toBe(false);
  });
});
