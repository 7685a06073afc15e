/**
 * The room screens message text before storing it: the deployment's content rules (reject or mask, case-
 * and accent-insensitive) and the before-send moderation webhook (allow, reject, replace; failing open or
 * closed), over WebSocket and REST, sends and edits alike. Nothing refused is stored or broadcast.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentRules } from "../../src/db/moderation-schema";
import { messages } from "../../src/db/schema";
import { db } from "../helpers/fixtures";
import { roomWith, sendAndAck, stubFor, type TestUser } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const RECEIVER = env.TEST_WEBHOOK_RECEIVER;
const tag = crypto.randomUUID().slice(0, 8);
// Words of this run only, so other test files' rooms (which read the same table) are unaffected.
const BANNED = `zorblat${tag}`;
const MASKED = `fripple${tag}`;
let ruleIds: string[] = [];

beforeAll(async () => {
  const rows = await db()
    .insert(contentRules)
    .values([
      { kind: "word", value: BANNED, action: "reject" },
      { kind: "word", value: MASKED, action: "mask" },
    ])
    .returning({ id: contentRules.id });
  ruleIds = rows.map((r) => r.id);
});
afterAll(async () => {
  for (const id of ruleIds) await db().delete(contentRules).where(eq(contentRules.id, id));
});

async function rest(method: string, path: string, token: string, body?: unknown) {
  const res = await exports.default.fetch(`http://edgechat.test${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  type ErrorBody = { error: { code: string; message: string } };
  return { status: res.status, json: (await res.json().catch(() => null)) as ErrorBody | null };
}

/** A receiver path of its own that answers every moderation call as told. */
async function hook(answer: { status?: number; reply?: string; delayMs?: number }): Promise<string> {
  const name = `screen-${crypto.randomUUID()}`;
  await fetch(`${RECEIVER}/__control/${name}`, {
    method: "POST",
    body: JSON.stringify({
      fail: 1000,
      status: answer.status ?? 200,
      delayMs: answer.delayMs ?? 0,
      reply: answer.reply,
    }),
  });
  return `${RECEIVER}/hook/${name}`;
}

async function withWebhook(roomId: string, url: string, failure: "open" | "closed") {
  await runInDurableObject(stubFor(roomId), (instance: object) => {
    Object.assign(instance, {
      env: {
        ...env,
        MODERATION_WEBHOOK_URL: url,
        MODERATION_WEBHOOK_FAILURE: failure,
        MODERATION_WEBHOOK_TIMEOUT_MS: "300",
        ALLOW_LOOPBACK_ENDPOINTS: "true",
      },
    });
  });
}

async function stored(roomId: string, clientMsgId: string) {
  await stubFor(roomId).drainOutbox();
  const [row] = await db()
    .select({ body: messages.body })
    .from(messages)
    .where(and(eq(messages.roomId, roomId), eq(messages.clientMsgId, clientMsgId)));
  return row?.body ?? null;
}

describe("content rules in the room", () => {
  it("reject a message with a blocked word in any case or accent, over WebSocket and REST, storing nothing", async () => {
    const { room, users } = await roomWith(2);
    const [ana, bob] = [users[0], users[1] as TestUser];
    const a = await pool.join(room.id, ana.token);
    const b = await pool.join(room.id, bob.token);
    const shouty = BANNED.toUpperCase().replace("O", "Ó");
    a.send({ type: "send", clientMsgId: "bad-1", body: `well ${shouty}!` });
    expect(await a.next("error")).toMatchObject({ code: "content_rejected", ref: "bad-1" });
    const r = await rest("POST", `/api/rooms/${room.id}/messages`, ana.token, { clientMsgId: "bad-2", body: BANNED });
    expect(r.status).toBe(422);
    expect(r.json?.error.code).toBe("content_rejected");
    const ok = await sendAndAck(a, "fine-1", "all fine");
    expect(ok).toBe(1);
    a.send({ type: "edit", seq: ok, body: `now ${BANNED}` });
    expect(await a.next("error")).toMatchObject({ code: "content_rejected" });
    expect(b.frames.filter((f) => f.type === "message" || f.type === "edited")).toHaveLength(1);
    expect(await stored(room.id, "bad-1")).toBeNull();
    expect(await stored(room.id, "fine-1")).toBe("all fine");
  });

  it("mask a masked word where it stands, for everyone, and keep the rest", async () => {
    const { room, users } = await roomWith(2);
    const a = await pool.join(room.id, users[0].token);
    const b = await pool.join(room.id, (users[1] as TestUser).token);
    await sendAndAck(a, "mask-1", `a ${MASKED}, really`);
    const seen = await b.next("message");
    expect(seen.body).toBe(`a ${"*".repeat(MASKED.length)}, really`);
    expect(await stored(room.id, "mask-1")).toBe(seen.body);
  });
});

describe("the moderation webhook in the room", () => {
  it("allows, rejects and replaces as it answers", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    await withWebhook(
      room.id,
      await hook({ reply: JSON.stringify({ action: "replace", body: "[redacted]" }) }),
      "open",
    );
    expect(await sendAndAck(a, "w-1", "my phone is 555")).toBe(1);
    expect((await a.next("message")).body).toBe("[redacted]");
    await withWebhook(room.id, await hook({ reply: JSON.stringify({ action: "reject", reason: "spam" }) }), "open");
    a.send({ type: "send", clientMsgId: "w-2", body: "buy now" });
    const refused = await a.next("error");
    expect(refused).toMatchObject({ code: "content_rejected", ref: "w-2" });
    expect(refused.message).toContain("spam");
    await withWebhook(room.id, await hook({ reply: JSON.stringify({ action: "allow" }) }), "open");
    expect(await sendAndAck(a, "w-3", "hello")).toBe(2);
    // A resend of a stored message is answered with the original, without asking again.
    await withWebhook(room.id, await hook({ reply: JSON.stringify({ action: "reject" }) }), "closed");
    a.send({ type: "send", clientMsgId: "w-3", body: "hello" });
    expect(await a.next("ack")).toMatchObject({ seq: 2, duplicate: true });
  });

  it.each([
    ["times out", { delayMs: 1500, reply: JSON.stringify({ action: "allow" }) }],
    ["answers 500", { status: 500 }],
    ["answers nonsense", { reply: "not json" }],
  ])("when it %s: open lets the message through, closed refuses it", async (_what, answer) => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    await withWebhook(room.id, await hook(answer), "open");
    expect(await sendAndAck(a, "f-open", "through")).toBe(1);
    await withWebhook(room.id, await hook(answer), "closed");
    a.send({ type: "send", clientMsgId: "f-closed", body: "held" });
    expect(await a.next("error", 5000)).toMatchObject({ code: "moderation_unavailable", ref: "f-closed" });
    const r = await rest("POST", `/api/rooms/${room.id}/messages`, users[0].token, { clientMsgId: "f-r", body: "x" });
    expect(r.status).toBe(503);
    expect(await stored(room.id, "f-closed")).toBeNull();
  });

  it("refuses an unreachable endpoint by the failure setting too", async () => {
    const { room, users } = await roomWith(1);
    const a = await pool.join(room.id, users[0].token);
    await withWebhook(room.id, "http://127.0.0.1:9/hook", "closed");
    a.send({ type: "send", clientMsgId: "dead-1", body: "anyone?" });
    expect(await a.next("error")).toMatchObject({ code: "moderation_unavailable" });
  });
});
