/**
 * Reports (src/worker/routes/reports.ts) and the moderation audit log (src/worker/routes/audit.ts), against
 * real Postgres: reporting a message or a person once, the review queues of room moderators and deployment
 * admins, handling, who may see what (never the reported person), every bad input, and the audit entries.
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  REPORT_REASONS as DB_REASONS,
  REPORT_STATES as DB_STATES,
  moderationAudit,
} from "../../src/db/moderation-schema";
import { messages, roomMembers, users } from "../../src/db/schema";
import { REPORT_REASONS, REPORT_STATES } from "../../src/protocol/safety";
import { recordAudit } from "../../src/worker/moderation/audit";
import { drainOutbox } from "../helpers/drain";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

type User = Awaited<ReturnType<typeof createUser>>;

async function admin(name = "admin") {
  const u = await createUser(name);
  await db().update(users).set({ isAdmin: true }).where(eq(users.id, u.id));
  return u;
}

/** A message as the room's write-through leaves it in Postgres. */
async function message(roomId: string, senderId: string, seq: number, o: { kind?: "regular" | "system" } = {}) {
  await db()
    .insert(messages)
    .values({
      roomId,
      seq,
      senderId,
      clientMsgId: crypto.randomUUID(),
      body: `message ${seq}`,
      kind: o.kind ?? "regular",
    });
}

/** Ana owns the room, Ben is an admin, Cy and Dee are members; Dee wrote message 1, Cy message 2. */
async function scene() {
  const [ana, ben, cy, dee] = await Promise.all([
    createUser("Ana"),
    createUser("Ben"),
    createUser("Cy"),
    createUser("Dee"),
  ]);
  const room = await createRoom(ana.id, [ben.id, cy.id, dee.id], [ben.id]);
  await message(room.id, dee.id, 1);
  await message(room.id, cy.id, 2);
  return { ana, ben, cy, dee, room };
}

const report = (roomId: string, who: User, body: unknown) =>
  api("POST", `/api/rooms/${roomId}/reports`, who.token, body);

async function audit(roomId: string) {
  return db().select().from(moderationAudit).where(eq(moderationAudit.roomId, roomId));
}

describe("reporting", () => {
  it("keeps the protocol's lists the same as the table's", () => {
    expect(REPORT_REASONS).toEqual(DB_REASONS);
    expect(REPORT_STATES).toEqual(DB_STATES);
  });

  it("reports a message (its sender is the target) once: a repeat is the same report, unchanged", async () => {
    const { cy, dee, room } = await scene();
    const first = await report(room.id, cy, { seq: 1, reason: "spam", text: "  buy now links  " });
    expect(first.status).toBe(201);
    expect(first.json.report).toMatchObject({
      roomId: room.id,
      seq: 1,
      targetUserId: dee.id,
      reason: "spam",
      text: "buy now links",
      state: "open",
    });
    // The reporter's view says nothing of who handles it.
    expect(first.json.report).not.toHaveProperty("handledBy");
    expect(first.json.report).not.toHaveProperty("reporter");
    const again = await report(room.id, cy, { seq: 1, reason: "harassment", text: "and again" });
    expect(again.status).toBe(200);
    expect(again.json.report).toEqual(first.json.report);
    // Another reporter, or the person rather than the message, is another report.
    const person = await report(room.id, cy, { userId: dee.id, reason: "harassment" });
    expect(person.status).toBe(201);
    expect(person.json.report).toMatchObject({ seq: null, targetUserId: dee.id, text: null });
    expect(person.json.report.id).not.toBe(first.json.report.id);
    expect((await report(room.id, cy, { userId: dee.id.toUpperCase(), reason: "other" })).status).toBe(200);
    // One audit entry per report made, none for the repeats.
    const entries = await audit(room.id);
    expect(entries.map((e) => e.action).sort()).toEqual(["report", "report"]);
    expect(entries.find((e) => e.seq === 1)).toMatchObject({
      actorId: cy.id,
      targetUserId: dee.id,
      reason: "spam",
      details: { reportId: first.json.report.id },
    });
  });

  it("reports a message sent through the room, once Postgres has it", async () => {
    // A room of its own: the room object numbers its messages from 1, unaware of scene()'s inserted rows.
    const [ana, cy] = await Promise.all([createUser("Ana"), createUser("Cy")]);
    const room = await createRoom(ana.id, [cy.id]);
    const sent = await api("POST", `/api/rooms/${room.id}/messages`, ana.token, {
      clientMsgId: crypto.randomUUID(),
      body: "through the room",
    });
    expect(sent.status).toBe(201);
    await drainOutbox(room.id);
    const r = await report(room.id, cy, { seq: sent.json.message.seq, reason: "other" });
    expect(r.status).toBe(201);
    expect(r.json.report.targetUserId).toBe(ana.id);
  });

  it("refuses reporting yourself, a message or person not in the room, and system messages", async () => {
    const { ana, cy, dee, room } = await scene();
    await message(room.id, ana.id, 3, { kind: "system" });
    const stranger = await createUser("stranger");
    const cases: [unknown, number, string][] = [
      [{ seq: 2, reason: "spam" }, 422, "unprocessable"],
      [{ userId: cy.id, reason: "spam" }, 422, "unprocessable"],
      [{ seq: 99, reason: "spam" }, 404, "not_found"],
      [{ userId: stranger.id, reason: "spam" }, 404, "not_found"],
      [{ userId: crypto.randomUUID(), reason: "spam" }, 404, "not_found"],
      [{ seq: 3, reason: "spam" }, 422, "unprocessable"],
    ];
    for (const [body, status, code] of cases) {
      const r = await report(room.id, cy, body);
      expect([r.status, r.json.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    // Someone who left but wrote in the room can still be reported.
    await db()
      .delete(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, dee.id)));
    expect((await report(room.id, cy, { userId: dee.id, reason: "hate" })).status).toBe(201);
  });

  it("answers bad input with 400 and the field, and non-members with 404", async () => {
    const { cy, dee, room } = await scene();
    const bad: [unknown, string][] = [
      [{ seq: 1, userId: dee.id, reason: "spam" }, "seq"],
      [{ reason: "spam" }, "seq"],
      [{ seq: 1, reason: "boring" }, "reason"],
      [{ seq: 1 }, "reason"],
      [{ seq: 0, reason: "spam" }, "seq"],
      [{ seq: 1.5, reason: "spam" }, "seq"],
      [{ seq: "1", reason: "spam" }, "seq"],
      [{ userId: "not-a-uuid", reason: "spam" }, "userId"],
      [{ seq: 1, reason: "spam", text: "x".repeat(1001) }, "text"],
      [{ seq: 1, reason: "spam", reporterId: cy.id }, "reporterId"],
    ];
    for (const [body, field] of bad) {
      const r = await report(room.id, cy, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe("validation_failed");
      expect(JSON.stringify(r.json.error.details), JSON.stringify(body)).toContain(field);
    }
    const notJson = await api("POST", `/api/rooms/${room.id}/reports`, cy.token);
    expect(notJson.status).toBe(415);
    const outsider = await createUser("outsider");
    expect((await report(room.id, outsider, { seq: 1, reason: "spam" })).status).toBe(404);
    expect((await report("not-a-room", cy, { seq: 1, reason: "spam" })).status).toBe(404);
    expect((await api("POST", `/api/rooms/${room.id}/reports`, undefined, { seq: 1, reason: "spam" })).status).toBe(
      401,
    );
  });
});

describe("the room's review queue", () => {
  it("shows owners and admins the reports with the reporter, and refuses members (403)", async () => {
    const { ana, ben, cy, dee, room } = await scene();
    const made = await report(room.id, cy, { seq: 1, reason: "spam", text: "look" });
    for (const moderator of [ana, ben]) {
      const list = await api("GET", `/api/rooms/${room.id}/reports`, moderator.token);
      expect(list.status).toBe(200);
      expect(list.json.reports).toEqual([
        expect.objectContaining({
          id: made.json.report.id,
          reporter: { id: cy.id, displayName: "Cy" },
          target: { id: dee.id, displayName: "Dee" },
          message: expect.objectContaining({ body: "message 1", deletedAt: null }),
          handledBy: null,
          handledAt: null,
        }),
      ]);
      expect(list.json.nextCursor).toBeNull();
    }
    for (const member of [cy, dee]) {
      const refused = await api("GET", `/api/rooms/${room.id}/reports`, member.token);
      expect(refused.status).toBe(403);
      expect(refused.json.error.code).toBe("forbidden");
      expect(JSON.stringify(refused.json)).not.toContain(cy.id);
    }
    const stranger = await createUser("stranger");
    expect((await api("GET", `/api/rooms/${room.id}/reports`, stranger.token)).status).toBe(404);
  });

  it("never shows a moderator the reports about them, nor lets them handle one", async () => {
    const { ana, ben, cy, room } = await scene();
    await message(room.id, ben.id, 3);
    const aboutBen = await report(room.id, cy, { seq: 3, reason: "harassment" });
    expect(aboutBen.status).toBe(201);
    const seenByBen = await api("GET", `/api/rooms/${room.id}/reports`, ben.token);
    expect(seenByBen.json.reports).toEqual([]);
    const patched = await api("PATCH", `/api/rooms/${room.id}/reports/${aboutBen.json.report.id}`, ben.token, {
      state: "dismissed",
    });
    expect(patched.status).toBe(404);
    // The owner sees it, and the reporter stays hidden from Ben there too.
    const seenByAna = await api("GET", `/api/rooms/${room.id}/reports`, ana.token);
    expect(seenByAna.json.reports.map((r: { id: string }) => r.id)).toEqual([aboutBen.json.report.id]);
  });

  it("filters by state and pages newest first with a cursor, without gaps or repeats", async () => {
    const { ana, cy, dee, room } = await scene();
    const ids: string[] = [];
    for (const body of [{ seq: 1 }, { userId: dee.id }, { seq: 2 }]) {
      const who = "seq" in body && body.seq === 2 ? dee : cy;
      const r = await report(room.id, who, { ...body, reason: "spam" });
      expect(r.status).toBe(201);
      ids.push(r.json.report.id);
    }
    const first = await api("GET", `/api/rooms/${room.id}/reports?limit=2`, ana.token);
    expect(first.json.reports.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    const second = await api("GET", `/api/rooms/${room.id}/reports?limit=2&cursor=${first.json.nextCursor}`, ana.token);
    expect(second.json.reports.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    expect(second.json.nextCursor).toBeNull();

    await api("PATCH", `/api/rooms/${room.id}/reports/${ids[1]}`, ana.token, { state: "dismissed" });
    const open = await api("GET", `/api/rooms/${room.id}/reports?state=open`, ana.token);
    expect(open.json.reports.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[0]]);
    const dismissed = await api("GET", `/api/rooms/${room.id}/reports?state=dismissed`, ana.token);
    expect(dismissed.json.reports.map((r: { id: string }) => r.id)).toEqual([ids[1]]);

    for (const query of ["state=closed", "limit=0", "limit=101", "cursor=nope", "sort=asc"]) {
      const bad = await api("GET", `/api/rooms/${room.id}/reports?${query}`, ana.token);
      expect(bad.status, query).toBe(400);
      expect(bad.json.error.code).toBe("validation_failed");
    }
  });

  it("handles a report: state, who and when, each handling audited; reopening clears who", async () => {
    const { ana, ben, cy, room } = await scene();
    const made = await report(room.id, cy, { seq: 1, reason: "spam" });
    const id = made.json.report.id as string;
    const actioned = await api("PATCH", `/api/rooms/${room.id}/reports/${id}`, ben.token, { state: "actioned" });
    expect(actioned.status).toBe(200);
    expect(actioned.json.report).toMatchObject({ id, state: "actioned", handledBy: ben.id });
    expect(Date.now() - Date.parse(actioned.json.report.handledAt)).toBeLessThan(60_000);
    const reopened = await api("PATCH", `/api/rooms/${room.id}/reports/${id}`, ana.token, { state: "open" });
    expect(reopened.json.report).toMatchObject({ state: "open", handledBy: null, handledAt: null });
    const entries = (await audit(room.id)).filter((e) => e.action !== "report");
    expect(entries.map((e) => [e.action, e.actorId]).sort()).toEqual(
      [
        ["report_actioned", ben.id],
        ["report_reopened", ana.id],
      ].sort(),
    );
    expect(entries[0]?.details).toMatchObject({ reportId: id });
    // The reporter now sees the new state, still without who handled it.
    const mine = await report(room.id, cy, { seq: 1, reason: "spam" });
    expect(mine.json.report).toMatchObject({ id, state: "open" });
  });

  it("refuses handling by members, other rooms' reports, and bad input", async () => {
    const { ana, cy, dee, room } = await scene();
    const made = await report(room.id, cy, { seq: 1, reason: "spam" });
    const id = made.json.report.id as string;
    expect((await api("PATCH", `/api/rooms/${room.id}/reports/${id}`, dee.token, { state: "dismissed" })).status).toBe(
      403,
    );
    expect((await api("PATCH", `/api/rooms/${room.id}/reports/${id}`, cy.token, { state: "dismissed" })).status).toBe(
      403,
    );
    const other = await createRoom(ana.id);
    const elsewhere = await api("PATCH", `/api/rooms/${other.id}/reports/${id}`, ana.token, { state: "dismissed" });
    expect([elsewhere.status, elsewhere.json.error.code]).toEqual([404, "not_found"]);
    const missing = await api("PATCH", `/api/rooms/${room.id}/reports/${crypto.randomUUID()}`, ana.token, {
      state: "dismissed",
    });
    expect(missing.status).toBe(404);
    expect((await api("PATCH", `/api/rooms/${room.id}/reports/nope`, ana.token, { state: "dismissed" })).status).toBe(
      404,
    );
    for (const body of [{ state: "closed" }, {}, { state: "dismissed", handledBy: ana.id }]) {
      const bad = await api("PATCH", `/api/rooms/${room.id}/reports/${id}`, ana.token, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
    // Nothing was handled by any of it.
    const [after] = (await api("GET", `/api/rooms/${room.id}/reports`, ana.token)).json.reports;
    expect(after).toMatchObject({ state: "open", handledBy: null });
    expect((await audit(room.id)).map((e) => e.action)).toEqual(["report"]);
  });
});

describe("deployment admins", () => {
  it("see every room's reports (filtered by room or state) and handle them; others get 404", async () => {
    const boss = await admin();
    const a = await scene();
    const b = await scene();
    const ra = await report(a.room.id, a.cy, { seq: 1, reason: "spam" });
    const rb = await report(b.room.id, b.cy, { seq: 1, reason: "hate" });
    const all = await api("GET", "/api/admin/reports?limit=100", boss.token);
    expect(all.status).toBe(200);
    const ids = all.json.reports.map((r: { id: string }) => r.id);
    expect(ids).toEqual(expect.arrayContaining([ra.json.report.id, rb.json.report.id]));
    expect(ids.indexOf(rb.json.report.id)).toBeLessThan(ids.indexOf(ra.json.report.id));
    const onlyA = await api("GET", `/api/admin/reports?roomId=${a.room.id}`, boss.token);
    expect(onlyA.json.reports.map((r: { id: string }) => r.id)).toEqual([ra.json.report.id]);
    expect(onlyA.json.reports[0].reporter).toEqual({ id: a.cy.id, displayName: "Cy" });

    const handled = await api("PATCH", `/api/admin/reports/${rb.json.report.id}`, boss.token, { state: "dismissed" });
    expect(handled.json.report).toMatchObject({ state: "dismissed", handledBy: boss.id });
    const dismissed = await api("GET", `/api/admin/reports?state=dismissed&roomId=${b.room.id}`, boss.token);
    expect(dismissed.json.reports.map((r: { id: string }) => r.id)).toEqual([rb.json.report.id]);
    const [entry] = (await audit(b.room.id)).filter((e) => e.action === "report_dismissed");
    expect(entry).toMatchObject({ actorId: boss.id, targetUserId: b.dee.id });

    for (const who of [a.ana, a.cy]) {
      expect((await api("GET", "/api/admin/reports", who.token)).status).toBe(404);
      expect(
        (await api("PATCH", `/api/admin/reports/${ra.json.report.id}`, who.token, { state: "dismissed" })).status,
      ).toBe(404);
    }
    expect(
      (await api("PATCH", `/api/admin/reports/${crypto.randomUUID()}`, boss.token, { state: "open" })).status,
    ).toBe(404);
    for (const query of ["roomId=nope", "state=all", "limit=x"]) {
      expect((await api("GET", `/api/admin/reports?${query}`, boss.token)).status, query).toBe(400);
    }
  });

  it("do not see reports about themselves", async () => {
    const boss = await admin();
    const other = await admin("other admin");
    const { cy, room } = await scene();
    await db().insert(roomMembers).values({ roomId: room.id, userId: boss.id, role: "member" });
    const made = await report(room.id, cy, { userId: boss.id, reason: "other" });
    expect(made.status).toBe(201);
    const mine = await api("GET", `/api/admin/reports?roomId=${room.id}`, boss.token);
    expect(mine.json.reports).toEqual([]);
    expect(
      (await api("PATCH", `/api/admin/reports/${made.json.report.id}`, boss.token, { state: "dismissed" })).status,
    ).toBe(404);
    const theirs = await api("GET", `/api/admin/reports?roomId=${room.id}`, other.token);
    expect(theirs.json.reports.map((r: { id: string }) => r.id)).toEqual([made.json.report.id]);
  });
});

describe("the audit log", () => {
  it("lists entries newest first for admins, filtered and paged; 404 to everyone else", async () => {
    const boss = await admin();
    const { ana, cy, dee, room } = await scene();
    await recordAudit(db(), { actorId: ana.id, action: "mute", roomId: room.id, targetUserId: dee.id, reason: "calm" });
    await report(room.id, cy, { seq: 1, reason: "spam" });
    await recordAudit(db(), {
      actorId: ana.id,
      action: "ban",
      roomId: room.id,
      targetUserId: dee.id,
      details: { until: null },
    });

    const all = await api("GET", `/api/admin/audit?roomId=${room.id}`, boss.token);
    expect(all.status).toBe(200);
    expect(all.json.entries.map((e: { action: string }) => e.action)).toEqual(["ban", "report", "mute"]);
    expect(all.json.entries[2]).toMatchObject({ actorId: ana.id, targetUserId: dee.id, reason: "calm", seq: null });
    expect(all.json.entries[0].details).toEqual({ until: null });

    const bans = await api("GET", `/api/admin/audit?roomId=${room.id}&action=ban`, boss.token);
    expect(bans.json.entries.map((e: { action: string }) => e.action)).toEqual(["ban"]);
    const byCy = await api("GET", `/api/admin/audit?actorId=${cy.id}`, boss.token);
    expect(byCy.json.entries.map((e: { action: string }) => e.action)).toEqual(["report"]);
    const aboutDee = await api("GET", `/api/admin/audit?targetUserId=${dee.id}&limit=100`, boss.token);
    expect(aboutDee.json.entries.length).toBe(3);

    const first = await api("GET", `/api/admin/audit?roomId=${room.id}&limit=2`, boss.token);
    const second = await api(
      "GET",
      `/api/admin/audit?roomId=${room.id}&limit=2&cursor=${first.json.nextCursor}`,
      boss.token,
    );
    expect([...first.json.entries, ...second.json.entries].map((e: { id: string }) => e.id)).toEqual(
      all.json.entries.map((e: { id: string }) => e.id),
    );
    expect(second.json.nextCursor).toBeNull();

    for (const query of ["roomId=nope", "action=Bad Action", "limit=0", "cursor=%%%", "user=1"]) {
      const bad = await api("GET", `/api/admin/audit?${query}`, boss.token);
      expect(bad.status, query).toBe(400);
      expect(bad.json.error.code).toBe("validation_failed");
    }
    expect((await api("GET", "/api/admin/audit", ana.token)).status).toBe(404);
    expect((await api("GET", "/api/admin/audit")).status).toBe(404);
  });
});
