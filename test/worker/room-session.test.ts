import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { revokeSession } from "../../src/db/sessions";
import { createRoom, createUser, db, sessionToken } from "../helpers/fixtures";
import { useSocketPool } from "../helpers/sockets";

/** Integration: a long-lived socket's auth.refresh honours the session behind the token. */
const pool = useSocketPool();

describe("auth.refresh and sessions (integration)", () => {
  it("extends a socket with a token of a live session, and refuses one whose session was logged out", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const socket = await pool.connect(room.id, ana.token);
    await socket.next("welcome");

    const fresh = await sessionToken(ana.id);
    socket.send({ type: "auth.refresh", token: fresh.token });
    expect(await socket.next("auth.refreshed")).toMatchObject({ type: "auth.refreshed" });

    await revokeSession(env, db(), fresh.sessionId);
    socket.send({ type: "auth.refresh", token: fresh.token });
    expect(await socket.next("error")).toMatchObject({ code: "unauthorized", ref: "auth.refresh" });
    expect(socket.frames.some((f) => f.type === "auth.refreshed")).toBe(false);
  });
});
