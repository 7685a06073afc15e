/**
 * The deployment's content rules through the admin API (src/worker/routes/content-rules.ts) and on display
 * names at register and profile update. Rules are deployment-wide and other test files register people at
 * the same time, so every rule here is a word or pattern made up for the test that nothing else writes.
 */
import { eq, inArray, like, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentRules, moderationAudit } from "../../src/db/moderation-schema";
import { users } from "../../src/db/schema";
import { MAX_PATTERN_RULES, MAX_RULES } from "../../src/lib/content-rules";
import { createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

/** Every value made here starts with this, so leftovers of an interrupted run can be found and removed. */
const PREFIX = "zqrule";
const token = () => `${PREFIX}${crypto.randomUUID().replaceAll("-", "").slice(0, 10).replace(/[0-9]/g, "k")}`;

let boss: Awaited<ReturnType<typeof createUser>>;

async function clean() {
  await db()
    .delete(contentRules)
    .where(like(contentRules.value, `%${PREFIX}%`));
}

beforeAll(async () => {
  await clean();
  boss = await createUser("rules admin");
  await db().update(users).set({ isAdmin: true }).where(eq(users.id, boss.id));
});
afterAll(clean);

const add = (body: unknown, who = boss) => api("POST", "/api/admin/content-rules", who.token, body);

async function register(displayName: string) {
  return api("POST", "/api/auth/register", undefined, {
    email: `named-${crypto.randomUUID()}@example.test`,
    displayName,
    password: "correct horse battery",
  });
}

describe("admin routes", () => {
  it("adds, lists and removes rules, each change in the audit log; 404 to non-admins", async () => {
    const word = token();
    const made = await add({ kind: "word", value: word, action: "mask" });
    expect(made.status).toBe(201);
    expect(made.json.rule).toMatchObject({ kind: "word", value: word, action: "mask", createdBy: boss.id });
    const id = made.json.rule.id as string;

    const list = await api("GET", "/api/admin/content-rules", boss.token);
    expect(list.status).toBe(200);
    expect(list.json.rules).toContainEqual(made.json.rule);
    expect(list.json.remaining.rules).toBeLessThan(MAX_RULES);

    const again = await add({ kind: "word", value: word, action: "reject" });
    expect([again.status, again.json.error.code, again.json.error.details]).toEqual([409, "conflict", { id }]);

    const member = await createUser("member");
    for (const [method, path, body] of [
      ["GET", "/api/admin/content-rules", undefined],
      ["POST", "/api/admin/content-rules", { kind: "word", value: token(), action: "mask" }],
      ["DELETE", `/api/admin/content-rules/${id}`, undefined],
    ] as const) {
      expect((await api(method, path, member.token, body)).status, `${method} ${path}`).toBe(404);
    }

    expect((await api("DELETE", `/api/admin/content-rules/${id}`, boss.token)).status).toBe(204);
    expect((await api("DELETE", `/api/admin/content-rules/${id}`, boss.token)).status).toBe(404);
    expect((await api("DELETE", "/api/admin/content-rules/not-an-id", boss.token)).status).toBe(404);
    const entries = await db().select().from(moderationAudit).where(sql`${moderationAudit.details}->>'ruleId' = ${id}`);
    expect(entries.map((e) => e.action).sort()).toEqual(["content_rule_added", "content_rule_removed"]);
    expect(entries.every((e) => e.actorId === boss.id)).toBe(true);
    expect(entries[0]?.details).toMatchObject({ kind: "word", value: word, action: "mask" });
  });

  it.each([
    ["a back-reference", { kind: "pattern", value: `(${PREFIX})\\1` }, /back-reference/],
    ["nested repetition", { kind: "pattern", value: `(${PREFIX}{1,3}){1,3}` }, /repeats a group/],
    ["an unbounded repetition", { kind: "pattern", value: `${PREFIX}.+` }, /upper bound/],
    ["a repeated alternation", { kind: "pattern", value: `(?:${PREFIX}|x){1,9}` }, /repeats a group/],
    ["too much work per position", { kind: "pattern", value: `${PREFIX}\\w{1,9}\\w{1,9}` }, /ways per position/],
    ["an invalid expression", { kind: "pattern", value: `${PREFIX}(` }, /not a valid regular expression/],
    ["an empty match", { kind: "pattern", value: `(?:${PREFIX})?` }, /empty text/],
    ["a pattern over 200 characters", { kind: "pattern", value: `${PREFIX}${"x".repeat(200)}` }, /longer than 200/],
    ["a word over 100 characters", { kind: "word", value: `${PREFIX}${"x".repeat(100)}` }, /longer than 100/],
    ["a word with nothing to match", { kind: "word", value: "!!! ???" }, /no letters/],
  ])("refuses %s with 422 and the reason", async (_, rule, reason) => {
    const r = await add({ ...rule, action: "reject" });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe("unprocessable");
    expect(r.json.error.details).toEqual([{ field: "value", message: expect.stringMatching(reason) }]);
  });

  it.each([
    [{ kind: "regex", value: "x", action: "mask" }, "kind"],
    [{ kind: "word", value: "x", action: "ban" }, "action"],
    [{ kind: "word", value: "   ", action: "mask" }, "value"],
    [{ kind: "word", action: "mask" }, "value"],
    [{ kind: "word", value: "x", action: "mask", createdBy: "me" }, "createdBy"],
    [{ kind: "word", value: "x".repeat(1001), action: "mask" }, "value"],
  ])("refuses %j with 400", async (body, field) => {
    const r = await add(body);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("validation_failed");
    expect(JSON.stringify(r.json.error.details)).toContain(field);
  });

  it("holds the deployment to MAX_PATTERN_RULES patterns and MAX_RULES rules", async () => {
    const [held] = await db()
      .select({
        rules: sql<number>`count(*)::int`,
        patterns: sql<number>`count(*) filter (where kind = 'pattern')::int`,
      })
      .from(contentRules);
    const patterns = Array.from({ length: Math.max(0, MAX_PATTERN_RULES - (held?.patterns ?? 0)) }, () => ({
      kind: "pattern" as const,
      value: `${token()}x{1,2}`,
      action: "mask" as const,
    }));
    const filled = await db().insert(contentRules).values(patterns).returning({ id: contentRules.id });
    try {
      const refused = await add({ kind: "pattern", value: `${token()}y`, action: "mask" });
      expect([refused.status, refused.json.error.details]).toEqual([
        422,
        [{ field: "kind", message: `at most ${MAX_PATTERN_RULES} patterns` }],
      ]);
      expect((await api("GET", "/api/admin/content-rules", boss.token)).json.remaining.patterns).toBe(0);
      const words = Array.from({ length: Math.max(0, MAX_RULES - (held?.rules ?? 0) - patterns.length) }, () => ({
        kind: "word" as const,
        value: token(),
        action: "mask" as const,
      }));
      filled.push(...(await db().insert(contentRules).values(words).returning({ id: contentRules.id })));
      const full = await add({ kind: "word", value: token(), action: "mask" });
      expect([full.status, full.json.error.details]).toEqual([
        422,
        [{ field: "kind", message: `at most ${MAX_RULES} rules` }],
      ]);
    } finally {
      await db()
        .delete(contentRules)
        .where(
          inArray(
            contentRules.id,
            filled.map((f) => f.id),
          ),
        );
    }
  });
});

describe("display names", () => {
  it("are refused (422 content_rejected) or masked at register and profile update, whatever the case or accents", async () => {
    const banned = `${token()}oe`;
    const masked = token();
    expect((await add({ kind: "word", value: banned, action: "reject" })).status).toBe(201);
    expect((await add({ kind: "pattern", value: `${masked}[0-9]{1,3}`, action: "mask" })).status).toBe(201);

    const refused = await register(`The ${banned.toUpperCase()}`);
    expect(refused.status).toBe(422);
    expect(refused.json.error).toMatchObject({
      code: "content_rejected",
      details: [{ field: "displayName", message: "contains blocked words" }],
    });
    // Accents and look-alikes are the same word: "…0É" is "…oe".
    expect((await register(`${banned.slice(0, -2).toUpperCase()}0É!`)).status).toBe(422);

    const ok = await register(`Ann ${masked}42 Lee`);
    expect(ok.status).toBe(201);
    expect(ok.json.user.displayName).toBe(`Ann ${"*".repeat(masked.length + 2)} Lee`);
    const [stored] = await db().select().from(users).where(eq(users.id, ok.json.user.id));
    expect(stored?.displayName).toBe(ok.json.user.displayName);

    const token_ = ok.json.accessToken as string;
    const update = await api("PATCH", "/api/auth/me", token_, { displayName: `Ann ${banned}` });
    expect([update.status, update.json.error.code]).toEqual([422, "content_rejected"]);
    const renamed = await api("PATCH", "/api/auth/me", token_, { displayName: `${masked.toUpperCase()}7` });
    expect(renamed.json.user.displayName).toBe("*".repeat(masked.length + 1));
    expect((await api("PATCH", "/api/auth/me", token_, { displayName: "Ann Lee" })).json.user.displayName).toBe(
      "Ann Lee",
    );
    // Names that only contain the word inside a longer one are left alone.
    expect((await register(`${banned}s`)).status).toBe(201);
  });

  it("are left alone when no rule matches, and a removed rule stops applying", async () => {
    const word = token();
    const made = await add({ kind: "word", value: word, action: "reject" });
    expect((await register(word)).status).toBe(422);
    expect((await api("DELETE", `/api/admin/content-rules/${made.json.rule.id}`, boss.token)).status).toBe(204);
    const r = await register(word);
    expect(r.status).toBe(201);
    expect(r.json.user.displayName).toBe(word);
  });
});
