/** The operators' inspector (npm run inspect), run against the real worker. */
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { InspectorError, runInspector } from "../../scripts/inspector/inspect";
import { users } from "../../src/db/schema";
import { createUser, db } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const fetcher = (url: string, init?: RequestInit) => exports.default.fetch(url, init);
const options = (token: string, json = false) => ({ baseUrl: "http://edgechat.test", token, fetch: fetcher, json });

async function adminToken() {
  const u = await createUser("ops");
  await db().update(users).set({ isAdmin: true }).where(eq(users.id, u.id));
  return u.token;
}

describe("npm run inspect", () => {
  it("room <id> shows the room's live figures", async () => {
    const token = await adminToken();
    const { room, users: members } = await roomWith(2);
    const socket = await pool.join(room.id, (members[0] as { token: string }).token);
    await sendAndAck(socket, "one");
    await sendAndAck(socket, "two");
    await stubFor(room.id).drainOutbox();
    const text = await runInspector(["room", room.id], options(token));
    expect(text).toContain(`room               ${room.id} (group, test room)`);
    expect(text).toMatch(/live sockets\s+1\n/);
    expect(text).toMatch(/last seq\s+2\n/);
    expect(text).toMatch(/outbox depth\s+0\n/);
    expect(text).toMatch(/redis buffer\s+2 messages, seq 1\.\.2\n/);
    const json = JSON.parse(await runInspector(["room", room.id, "--json"], options(token, true)));
    expect(json.live.lastSeq).toBe(2);
  });

  it("user <email>, stats and dead-letters", async () => {
    const token = await adminToken();
    const { users: members } = await roomWith(2);
    const someone = members[1] as { id: string; email: string };
    const user = await runInspector(["user", someone.email], options(token));
    expect(user).toContain(someone.id);
    expect(user).toMatch(/rooms\s+1\n/);
    expect(await runInspector(["stats"], options(token))).toMatch(/^users\s+\d+/);
    expect(await runInspector(["dead-letters", "5"], options(token))).toMatch(/shown, \d+ still retrying/);
  });

  it("explains what went wrong: unknown ids, non-admin tokens, bad usage", async () => {
    const token = await adminToken();
    const member = await createUser("member");
    await expect(runInspector(["room", crypto.randomUUID()], options(token))).rejects.toThrow(/not found/);
    await expect(runInspector(["stats"], options(member.token))).rejects.toThrow(InspectorError);
    await expect(runInspector(["frobnicate"], options(token))).rejects.toThrow(/usage: npm run inspect/);
    await expect(runInspector(["room"], options(token))).rejects.toThrow(/usage/);
  });
});
