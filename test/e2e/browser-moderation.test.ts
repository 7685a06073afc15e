/**
 * The web app's moderation and safety controls (issue 26) in Debian's Chromium against `npm run dev`:
 * block and unblock from a message, a profile and the settings; report a message (reason and text) and a
 * person; mute and ban for a duration, lift them, and delete all of a member's messages from the member
 * list; slow mode from the room settings; the room's review queue. Each screen is checked by axe-core
 * and for sideways overflow at desktop and phone width, with screenshots into test-artifacts/screens/.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { EdgechatClient } from "../../src/client";
import {
  checkBoth,
  composer,
  connected,
  DESKTOP,
  launch,
  logIn,
  message,
  openPage,
  PHONE,
  people,
  register,
  send,
} from "./web-app";

const base = inject("e2eBaseUrl");
const tag = crypto.randomUUID().slice(0, 6);
const person = people(`m${tag}`);
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => undefined);
  await browser?.close();
});

/** An owner (Olga), two members (Max, Nia), a room with some talk; Olga's and Max's pages open in it. */
async function moderatedRoom(name: string) {
  const olga = person(`Olga${name}`);
  const max = person(`Max${name}`);
  const nia = person(`Nia${name}`);
  const [O, M, N] = [await register(base, olga), await register(base, max), await register(base, nia)];
  const room = await O.client.rooms.create({ name: `${name}-${tag}` });
  await O.client.rooms.invite(room.id, M.id);
  await O.client.rooms.invite(room.id, N.id);
  let n = 0;
  const say = async (who: { client: EdgechatClient }, body: string) =>
    (await who.client.messages.send(room.id, { clientMsgId: `${name}${++n}`, body })).message.seq;
  await say(O, "Welcome, both of you. Be kind.");
  await say(N, "Buy cheap followers at spam.example!");
  await say(N, "Really, cheap followers, click now");
  await say(M, "Hello everyone");
  const o = await openPage(browser, base, contexts, DESKTOP, `/rooms/${room.id}`);
  await logIn(o, olga);
  await connected(o);
  const m = await openPage(browser, base, contexts, PHONE, `/rooms/${room.id}`);
  await logIn(m, max);
  await connected(m);
  return { room, olga, max, nia, O, M, N, o, m, say };
}

const moderate = async (p: Page, who: string, action: string) => {
  await p.getByRole("button", { name: `Moderate ${who}` }).click();
  await p.getByRole("menuitem", { name: action }).click();
};

/** On a phone a message's actions show once it is tapped. */
async function messageMenu(p: Page, text: string, item: string) {
  const m = message(p, text);
  await m.locator(".body").click();
  await m.getByRole("button", { name: "More actions" }).click();
  await p.getByRole("menuitem", { name: item }).click();
}

describe("moderation in the web app, issue 26", () => {
  it("mute and ban for a while, lift them, delete all of a member's messages, slow mode", async () => {
    const { max, nia, o, m } = await moderatedRoom("mod");
    await o.getByRole("link", { name: "Room info" }).click();
    await o.getByRole("heading", { name: "Members (3)" }).waitFor();
    await checkBoth(o, "room-info-moderator");

    // Mute Max for an hour: his composer says so at once (the room tells him), his sends are refused.
    await moderate(o, max.name, "Mute…");
    const mute = o.getByRole("dialog", { name: `Mute ${max.name}` });
    await mute.getByLabel("For how long").selectOption({ label: "1 hour" });
    await mute.getByLabel(/Reason/).fill("Cool down a little");
    await checkBoth(o, "mute-dialog");
    await mute.getByRole("button", { name: "Mute", exact: true }).click();
    await o
      .getByRole("status")
      .filter({ hasText: `${max.name} is muted.` })
      .waitFor();
    await o
      .locator(".member", { hasText: max.name })
      .getByText(/muted until/)
      .waitFor();
    await m.getByText("You are muted in this room: you can read but not send.").waitFor();
    expect(await composer(m).count()).toBe(0);
    await moderate(o, max.name, "Unmute");
    await o
      .getByRole("status")
      .filter({ hasText: `${max.name} can send again.` })
      .waitFor();
    await composer(m).waitFor();

    // Delete every message of Nia, after a confirmation.
    await moderate(o, nia.name, "Delete all messages…");
    const purge = o.getByRole("dialog", { name: `Delete all messages by ${nia.name}?` });
    await checkBoth(o, "purge-confirm");
    await purge.getByRole("button", { name: "Delete all" }).click();
    // (The count is the room's: her "joined" notice is hers too.)
    await expect.poll(() => o.locator(".panel-side .toast").innerText()).toMatch(`messages by ${nia.name} deleted.`);
    for (const p of [o, m]) {
      await expect.poll(() => p.getByRole("log").getByText("Message deleted").count()).toBe(2);
      expect(await message(p, "cheap followers").count()).toBe(0);
    }

    // Ban Nia for a day: she leaves the member list for the Banned list; Unban brings her back in reach.
    await moderate(o, nia.name, "Ban…");
    const ban = o.getByRole("dialog", { name: `Ban ${nia.name}` });
    await ban.getByLabel("For how long").selectOption({ label: "1 day" });
    await ban.getByRole("button", { name: "Ban", exact: true }).click();
    const banned = o.getByRole("region", { name: "Banned" });
    await banned.getByText(nia.name).waitFor();
    await banned.getByText(/until/).waitFor();
    await expect.poll(() => o.getByRole("heading", { name: "Members (2)" }).count()).toBe(1);
    await o.locator(".notice", { hasText: `banned ${nia.name}` }).waitFor();
    await banned.getByRole("button", { name: "Unban" }).click();
    await o
      .getByRole("dialog", { name: `Unban ${nia.name}?` })
      .getByRole("button", { name: "Unban" })
      .click();
    await banned.waitFor({ state: "detached" });

    // Slow mode from the room settings: members are told and held to it; owners are exempt.
    await o.getByLabel("Slow mode").selectOption({ label: "One message every 30 s" });
    await o.getByRole("button", { name: "Save settings" }).click();
    await o.getByRole("status").filter({ hasText: "Room settings saved." }).waitFor();
    await o.getByText("Slow mode 30 s").waitFor();
    await m.getByText("Slow mode is on: one message every 30 s.").waitFor();
    await send(m, "first under slow mode");
    await message(o, "first under slow mode").waitFor();
    await send(m, "second under slow mode");
    await m.getByText(/Slow mode: your next message can go in \d+ s\./).waitFor();
    await m.getByRole("article", { name: "Your message, sending" }).getByText("Waiting for slow mode…").waitFor();
    await checkBoth(m, "slow-mode");
    expect(await message(o, "second under slow mode").count()).toBe(0);

    // Message history: the owner shortens how long the room keeps messages (never past the deployment's).
    const history = o.getByRole("region", { name: "Message history" });
    await history.getByLabel("Keep messages").selectOption({ label: "For 7 days" });
    await history.getByRole("button", { name: "Save" }).click();
    await history.getByText("Saved: messages are kept for 7 days.").waitFor();
  });

  it("block and unblock from a message, a profile and the settings; report a message and a person; the review queue", async () => {
    const { nia, olga, o, m } = await moderatedRoom("safe");

    // Max blocks Nia from her message: her messages become a notice for him, not for Olga.
    await messageMenu(m, "Buy cheap followers", `Block ${nia.name}`);
    const confirm = m.getByRole("dialog", { name: `Block ${nia.name}?` });
    await checkBoth(m, "block-confirm");
    await confirm.getByRole("button", { name: "Block", exact: true }).click();
    await m
      .getByRole("status")
      .filter({ hasText: `You blocked ${nia.name}.` })
      .waitFor();
    await expect.poll(() => m.getByText("A message from someone you blocked").count()).toBe(2);
    expect(await message(o, "Buy cheap followers").count()).toBe(1);

    // Unblock from the settings, and block again from her profile.
    await m.getByRole("link", { name: "All rooms" }).click();
    await m.getByRole("link", { name: /settings/ }).click();
    const blocked = m.getByRole("region", { name: "Blocked people" });
    await blocked.getByText(nia.name).waitFor();
    await checkBoth(m, "settings-blocked");
    await blocked.getByRole("button", { name: "Unblock" }).click();
    await m
      .getByRole("status")
      .filter({ hasText: `You unblocked ${nia.name}.` })
      .waitFor();
    await m.goBack();
    await m.goBack();
    await connected(m);
    await message(m, "Buy cheap followers").waitFor();
    await message(m, "Buy cheap followers").getByRole("button", { name: nia.name }).click();
    const profile = m.getByRole("dialog", { name: nia.name });
    await profile.getByRole("button", { name: "Message" }).waitFor();
    await checkBoth(m, "profile");
    await profile.getByRole("button", { name: "Block", exact: true }).click();
    await m
      .getByRole("dialog", { name: `Block ${nia.name}?` })
      .getByRole("button", { name: "Block", exact: true })
      .click();
    await expect.poll(() => m.getByText("A message from someone you blocked").count()).toBe(2);

    // Olga reports Nia's message with a reason and a word, and Nia herself.
    await o.getByRole("log").locator(".body", { hasText: "Really, cheap followers" }).hover();
    await message(o, "Really, cheap followers").getByRole("button", { name: "More actions" }).click();
    await o.getByRole("menuitem", { name: "Report message" }).click();
    const report = o.getByRole("dialog", { name: "Report message" });
    await report.getByRole("radio", { name: "Spam or scam" }).check();
    await report.getByLabel(/Anything to add/).fill("Link farm, third time this week");
    await checkBoth(o, "report-dialog");
    await report.getByRole("button", { name: "Send report" }).click();
    await report.getByText(/will review your report/).waitFor();
    await report.getByRole("button", { name: "Done" }).click();
    await message(o, "Buy cheap followers").getByRole("button", { name: nia.name }).click();
    await o.getByRole("dialog", { name: nia.name }).getByRole("button", { name: "Report" }).click();
    const reportPerson = o.getByRole("dialog", { name: "Report person" });
    await reportPerson.getByRole("radio", { name: "Harassment or bullying" }).check();
    await reportPerson.getByRole("button", { name: "Send report" }).click();
    await reportPerson.getByRole("button", { name: "Done" }).click();

    // The review queue: both reports, open; deleting the message actions its report; dismiss the other.
    await o.getByRole("link", { name: "Room info" }).click();
    await o.getByRole("link", { name: "Review reports" }).click();
    await o.waitForURL(/\/reports$/);
    const queue = o.getByRole("complementary", { name: "Reports" });
    const messageReport = queue.locator(".report", { hasText: "Link farm, third time this week" });
    await messageReport.getByText("Spam or scam").waitFor();
    await messageReport.getByText(`reported by ${olga.name}`).waitFor();
    await queue.locator(".report", { hasText: "Harassment or bullying" }).waitFor();
    await checkBoth(o, "review-queue");
    await messageReport.getByRole("button", { name: "Delete message" }).click();
    await o.getByRole("status").filter({ hasText: "Report marked as actioned." }).waitFor();
    await queue
      .locator(".report", { hasText: "Harassment or bullying" })
      .getByRole("button", { name: "Dismiss" })
      .click();
    await queue.getByText("No open reports.").waitFor();
    await queue.getByRole("button", { name: "Actioned" }).click();
    await queue
      .locator(".report", { hasText: "Link farm" })
      .getByText(/^Actioned by/)
      .waitFor();
    await queue.getByRole("button", { name: "Dismissed" }).click();
    await queue.locator(".report", { hasText: "Harassment" }).waitFor();

    // A member who is not a moderator has no queue: the room info does not offer it.
    await m.getByRole("dialog", { name: nia.name }).getByRole("button", { name: "Unblock" }).waitFor();
    await m.keyboard.press("Escape");
    await m.getByRole("link", { name: "Room info" }).click();
    await m.getByRole("heading", { name: "Members (3)" }).waitFor();
    expect(await m.getByRole("link", { name: "Review reports" }).count()).toBe(0);
    expect(await m.getByRole("button", { name: `Moderate ${olga.name}` }).count()).toBe(0);
    await checkBoth(m, "room-info-member");
  });
});
