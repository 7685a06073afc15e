/**
 * Injection: SQL, full-text and LIKE metacharacters in search, hostile path ids and cursors. Nothing is a
 * 500, nothing reaches another user's rooms, and snippets stay HTML-safe.
 */
import { describe, expect, it } from "vitest";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser } from "../helpers/fixtures";
import { api } from "../helpers/http";

const HOSTILE = [
  "'",
  "''",
  "' OR '1'='1",
  "x' OR 1=1 --",
  '"; DROP TABLE users; --',
  "\\",
  "%",
  "_",
  "%_%",
  "*",
  ":*",
  "a:*",
  "a & b",
  "a | b",
  "!a",
  "(a",
  "a)",
  "a <-> b",
  "a <2> b",
  '"unterminated',
  "-",
  "or",
  "$1",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the attack
  "${jndi:ldap://x}",
  "<script>",
  "é́́",
  "🔥",
  "a".repeat(200),
];

describe("search input", () => {
  it("answers every hostile query without error, and only from my own rooms", async () => {
    const ana = await createUser("ana");
    const eve = await createUser("eve");
    const mine = await createRoom(ana.id);
    const theirs = await createRoom(eve.id);
    await api("POST", `/api/rooms/${theirs.id}/messages`, eve.token, {
      clientMsgId: crypto.randomUUID(),
      body: "secret ' OR '1'='1 a b % _ <script>",
    });
    await api("POST", `/api/rooms/${mine.id}/messages`, ana.token, {
      clientMsgId: crypto.randomUUID(),
      body: "<img src=x onerror=alert(1)> findme",
    });
    await Promise.all([drainOutbox(mine.id), drainOutbox(theirs.id)]);
    for (const q of [...HOSTILE, "secret"]) {
      const res = await api("GET", `/api/search?q=${encodeURIComponent(q)}`, ana.token);
      expect([200, 400], q).toContain(res.status);
      if (res.status === 200) {
        for (const hit of res.json.results) expect(JSON.stringify(hit), q).not.toContain(theirs.id);
      }
    }
    const found = await api("GET", "/api/search?q=findme", ana.token);
    expect(found.status).toBe(200);
    // The body is data (clients render it as text); the snippet is HTML, so it must come escaped.
    const snippets = (found.json.results as { snippet: string }[]).map((r) => r.snippet);
    expect(snippets.join(" ")).toContain("<mark>findme</mark>");
    expect(snippets.join(" ")).not.toMatch(/<(?!\/?mark>)/);
  });

  it("treats LIKE wildcards in people search as plain characters", async () => {
    const me = await createUser("searcher");
    for (const q of ["%", "_", "%%", "\\", "_%"]) {
      const res = await api("GET", `/api/users?q=${encodeURIComponent(q)}`, me.token);
      expect(res.status, q).toBe(200);
      for (const u of res.json.users) expect((u.displayName as string).startsWith(q), q).toBe(true);
    }
    for (const q of HOSTILE) {
      expect([200, 400], q).toContain((await api("GET", `/api/users?q=${encodeURIComponent(q)}`, me.token)).status);
    }
  });
});

describe("hostile ids and cursors", () => {
  it("never answers 500 for ids that are not ids", async () => {
    const ana = await createUser("ana");
    const room = await createRoom(ana.id);
    const ids = ["' OR '1'='1", "1;select pg_sleep(5)", "../../etc/passwd", "%2e%2e%2f", "null", "-1", "0x10", "ﬁ"];
    const seqs = ["-1", "1e3", "99999999999999999999999", "1 OR 1=1", "NaN", "0"];
    const paths = [
      ...ids.map((id) => `/api/rooms/${encodeURIComponent(id)}`),
      ...ids.map((id) => `/api/rooms/${encodeURIComponent(id)}/messages`),
      ...ids.map((id) => `/api/attachments/${encodeURIComponent(id)}`),
      ...seqs.map((s) => `/api/messages/${room.id}/${encodeURIComponent(s)}/thread`),
      `/api/rooms/${room.id}/messages?before=${encodeURIComponent("1 OR 1=1")}`,
      `/api/search?q=a&cursor=${encodeURIComponent("' OR 1=1 --")}`,
      `/api/search?q=a&roomId=${encodeURIComponent("' OR 1=1 --")}`,
      `/api/notifications?cursor=${encodeURIComponent("eyJ4IjoiJyBPUiAxPTEifQ")}`,
      `/api/rooms?cursor=${encodeURIComponent("{}")}`,
    ];
    for (const path of paths) {
      const res = await api("GET", path, ana.token);
      expect([400, 404], `${path}: ${JSON.stringify(res.json)}`).toContain(res.status);
    }
  });
});
