/**
 * The web app as a chat product (issue 28), in Debian's Chromium against `npm run dev`, at desktop
 * (1280×800) and phone (390×844) width: a busy room (grouping, avatars, times, day separator, links,
 * files, reply quotes that jump, reactions, the unread divider, "jump to latest"), the composer (Enter and
 * Shift+Enter, the counter and the refusal past the limit, edit in place, drafts per room, files by picker
 * and by drop), delete confirmation, routes that survive reload and the back button, links to a message,
 * direct rooms, the honest offline state, keyboard use, every screen checked by axe-core (no serious or
 * critical violation) and for sideways overflow, and screenshots of each into test-artifacts/screens/.
 */
import { copyFileSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { EdgechatClient } from "../../src/client";
import {
  addMember,
  checkBoth,
  checkScreen,
  composer,
  connected,
  connection,
  DESKTOP,
  launch,
  logIn,
  message,
  newGroup,
  openPage,
  openRoom,
  type PageElement,
  type PageGlobals,
  PHONE,
  people,
  register,
  SHOTS,
  send,
  shot,
} from "./web-app";

const base = inject("e2eBaseUrl");
const tag = crypto.randomUUID().slice(0, 6);
const person = people(tag);
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => undefined);
  await browser?.close();
});

const roomIdOf = (p: Page) => new URL(p.url()).pathname.split("/")[2] as string;

/** A picture to attach: a banner drawn by the browser itself. */
async function bannerPng(): Promise<Buffer> {
  const p = await (await browser.newContext({ viewport: { width: 480, height: 200 } })).newPage();
  await p.setContent(
    `<div style="width:480px;height:200px;display:flex;align-items:center;justify-content:center;font:700 40px system-ui;color:#fff;background:linear-gradient(135deg,#3047c7,#b3261e)">Launch day 🚀</div>`,
  );
  const png = await p.screenshot();
  await p.context().close();
  return png;
}

async function upload(c: EdgechatClient, roomId: string, filename: string, contentType: string, bytes: Buffer) {
  return c.attachments.upload(roomId, { filename, contentType, bytes: new Uint8Array(bytes), size: bytes.length });
}

describe("the web app, issue 28", () => {
  it("a busy room: groups, times, links, files, replies that jump, reactions, unread divider, at both widths", async () => {
    const ana = person("Ana");
    const ben = person("Ben");
    const cleo = person("Cleo");
    const [A, B, C] = [await register(base, ana), await register(base, ben), await register(base, cleo)];
    // Other rooms of Ana's, for the list beside it: a group with unread messages, a direct chat, a quiet one.
    const design = await C.client.rooms.create({ name: `design-${tag}` });
    await C.client.rooms.invite(design.id, A.id);
    await C.client.messages.send(design.id, { clientMsgId: `d1-${tag}`, body: "New mockups are up, have a look" });
    await C.client.messages.send(design.id, { clientMsgId: `d2-${tag}`, body: "The dark theme is in there too" });
    const direct = await B.client.rooms.direct(A.id);
    await B.client.messages.send(direct.id, { clientMsgId: `dm1-${tag}`, body: "Lunch at 1?" });
    const random = await A.client.rooms.create({ name: `random-${tag}` });
    await A.client.messages.send(random.id, { clientMsgId: `r1-${tag}`, body: "Friday drinks, anyone?" });
    const room = await A.client.rooms.create({ name: `launch-${tag}`, topic: "Everything for Friday's launch" });
    await A.client.rooms.invite(room.id, B.id);
    await A.client.rooms.invite(room.id, C.id);
    let n = 0;
    const say = async (who: { client: EdgechatClient }, body: string, extra: object = {}) =>
      (await who.client.messages.send(room.id, { clientMsgId: `m${++n}-${tag}`, body, ...extra })).message.seq;
    const checklist = "https://example.com/launch/checklist?step=1";
    await say(B, `Morning! The launch checklist is at ${checklist}`);
    const two = await say(B, "Two things left: the release notes and the status pge.");
    await B.client.messages.edit(room.id, two, "Two things left: the release notes and the status page.");
    const notes = await say(C, "I'll take the release notes.");
    const status = await say(A, "Great, I'll do the status page.");
    await A.client.messages.read(room.id, status);
    const banner = await upload(C.client, room.id, "banner.png", "image/png", await bannerPng());
    const draft = await say(C, "Draft of the banner:", { attachments: [banner.id] });
    await say(B, "Thanks Cleo! Ping me when the notes are ready for review.", { replyTo: notes });
    const file = await upload(B.client, room.id, "release-notes.txt", "text/plain", Buffer.from("v1.0: it ships\n"));
    await say(B, "Last year's notes, for reference.", { attachments: [file.id] });
    await say(C, `A long word must wrap on a phone: ${"Supercalifragilistic".repeat(12)}`);
    await A.client.messages.react(room.id, notes, "🎉");
    await B.client.messages.react(room.id, status, "👍");
    await C.client.messages.react(room.id, status, "👍");
    await B.client.messages.react(room.id, draft, "❤️");

    const a = await openPage(browser, base, contexts, DESKTOP, `/rooms/${room.id}`);
    await logIn(a, ana);
    await connected(a);
    await message(a, "A long word must wrap").waitFor();

    // Where I left off: the divider sits before the first message after my read mark, from someone else.
    const divider = a.locator(".unread-divider", { hasText: "New messages" });
    await divider.waitFor();
    expect(
      await divider.evaluate((d) =>
        (d as unknown as PageElement).nextElementSibling?.innerText.includes("Draft of the banner"),
      ),
    ).toBe(true);
    // Grouped: Ben's two messages in a row show his name once; times are relative today, under a "Today".
    expect(await message(a, "Two things left").evaluate((el) => el.classList.contains("head"))).toBe(false);
    expect(await message(a, "Morning!").getByRole("button", { name: ben.name }).count()).toBe(1);
    await message(a, "Morning!")
      .locator("time", { hasText: /just now|min ago/ })
      .waitFor();
    await a.getByRole("heading", { name: "Today" }).first().waitFor();
    await message(a, "Two things left").getByText("edited").waitFor();
    // Links: http(s) only, new tab, no referrer or opener.
    const link = message(a, "Morning!").getByRole("link", { name: checklist });
    expect(await link.getAttribute("href")).toBe(checklist);
    expect(await link.getAttribute("target")).toBe("_blank");
    expect(await link.getAttribute("rel")).toContain("noopener");
    // Files: an image preview (read with the token) and a file card.
    await message(a, "Draft of the banner").getByRole("img", { name: "banner.png" }).waitFor();
    await message(a, "Last year's notes").getByRole("button", { name: "Download release-notes.txt" }).waitFor();
    // Reactions with counts; mine pressed.
    await message(a, "Great, I'll do the status page").getByRole("button", { name: "👍 2" }).waitFor();
    expect(
      await message(a, "I'll take the release notes")
        .getByRole("button", { name: "🎉 1" })
        .getAttribute("aria-pressed"),
    ).toBe("true");
    await checkBoth(a, "busy-room");
    // The README's pictures: the list and a busy room on a desktop, the same room and the list on a phone.
    copyFileSync(`${SHOTS}/busy-room-desktop.png`, "docs/chat-view.png");
    copyFileSync(`${SHOTS}/busy-room-phone.png`, "docs/chat-phone.png");
    await a.setViewportSize(PHONE);
    await a.getByRole("link", { name: "All rooms" }).click();
    await a.getByRole("navigation", { name: "Rooms" }).getByText("Lunch at 1?").waitFor();
    await checkScreen(a, "room-list-busy");
    copyFileSync(`${SHOTS}/room-list-busy-phone.png`, "docs/rooms-phone.png");
    await a.goBack();
    await a.setViewportSize(DESKTOP);
    await connected(a);

    // A reply's quote names the author and jumps to the original: its own address, shown and focused.
    const quote = message(a, "Ping me when the notes").getByRole("link", {
      name: /In reply to: Cleo .* release notes/,
    });
    await quote.click();
    await a.waitForURL(new RegExp(`/rooms/${room.id}/messages/${notes}$`));
    await expect
      .poll(() =>
        message(a, "I'll take the release notes").evaluate(
          (el) => el === (globalThis as unknown as PageGlobals).document.activeElement,
        ),
      )
      .toBe(true);
    await a.goBack();
    await a.waitForURL(new RegExp(`/rooms/${room.id}$`));

    // The picker: six common emoji; a click adds mine and the count.
    const target = message(a, "Draft of the banner");
    await target.hover();
    await target.getByRole("button", { name: "React", exact: true }).click();
    for (const emoji of ["👍", "❤️", "😂", "🎉", "😮", "😢"])
      await a.getByRole("button", { name: `React ${emoji} to message ${draft}` }).waitFor();
    await a.getByRole("button", { name: `React 😮 to message ${draft}` }).click();
    await target.getByRole("button", { name: "😮 1" }).waitFor();

    // Jump to latest: scrolled up, new messages arrive below; the button says so and takes me there.
    // (Following the reply left the room scrolled up: first back to the newest, where new ones are seen.)
    const jump = a.getByRole("button", { name: /Jump to latest/ });
    await jump.click();
    await jump.waitFor({ state: "detached" });
    for (let i = 0; i < 14; i++) await say(B, `filler ${i}: ${"more text to fill the screen ".repeat(3)}`);
    await message(a, "filler 13").waitFor();
    await a.getByRole("log").evaluate((el) => {
      el.scrollTop = 0;
    });
    await say(C, "anyone still here?");
    await jump.waitFor();
    await expect.poll(() => jump.innerText()).toBe("1 new · Jump to latest ↓");
    await shot(a, "jump-to-latest");
    await jump.click();
    await expect.poll(() => message(a, "anyone still here?").isVisible()).toBe(true);
    await jump.waitFor({ state: "detached" });
  });

  it("composer: Enter and Shift+Enter, the counter and a clear refusal past the limit, edit in place, drafts, delete, files", async () => {
    const ana = person("Dana");
    await register(base, ana);
    const a = await openPage(browser, base, contexts);
    await logIn(a, ana);
    const first = await newGroup(a, `compose-${tag}`);

    // Enter sends; Shift+Enter is a new line.
    await composer(a).click();
    await a.keyboard.type("line one");
    await a.keyboard.press("Shift+Enter");
    await a.keyboard.type("line two");
    await a.keyboard.press("Enter");
    const twoLines = message(a, "line one");
    await twoLines.waitFor();
    expect(await twoLines.locator(".body").innerText()).toBe("line one\nline two");
    expect(await composer(a).inputValue()).toBe("");

    // Near the limit a counter; past it a refusal that names the numbers, nothing cut, nothing sent.
    await composer(a).fill("a".repeat(3700));
    await a.getByText("300 characters left").waitFor();
    await composer(a).fill("b".repeat(5000));
    await a
      .getByRole("alert")
      .filter({ hasText: "Too long: 5,000 of 4,000 characters. Remove 1,000 to send." })
      .waitFor();
    expect(await a.getByRole("button", { name: "Send", exact: true }).isDisabled()).toBe(true);
    await composer(a).press("Enter");
    expect((await composer(a).inputValue()).length).toBe(5000);
    await checkBoth(a, "composer-too-long");
    await composer(a).fill("");

    // Edit in place: the whole text in a box; Escape cancels; Save saves and marks it edited.
    const long =
      `A longer message to edit. ${"It goes on for a while, so a narrow input would cut it. ".repeat(4)}`.trim();
    await send(a, long);
    await message(a, "A longer message to edit").waitFor();
    // By its seq, once the room has acked it (a message still sending has none yet): while it is edited
    // its text is in the box, not in the body.
    let seq: string | null = null;
    await expect
      .poll(async () => (seq = await message(a, "A longer message to edit").getAttribute("data-seq")), {
        timeout: 10_000,
      })
      .toMatch(/^\d+$/);
    const mine = a.locator(`article[data-seq="${seq}"]`);
    await mine.hover();
    await mine.getByRole("button", { name: "More actions" }).click();
    await a.getByRole("menuitem", { name: "Edit" }).click();
    const box = a.getByRole("textbox", { name: "Edit message" });
    expect(await box.inputValue()).toBe(long);
    await mine.getByRole("button", { name: "Save" }).waitFor();
    await mine.getByRole("button", { name: "Cancel" }).waitFor();
    await checkBoth(a, "edit-in-place");
    await box.fill("changed, then thought better of it");
    await box.press("Escape");
    await box.waitFor({ state: "detached" });
    expect(await mine.locator(".body").innerText()).toBe(long);
    // ArrowUp in the empty composer edits my last message; Save.
    await composer(a).click();
    await composer(a).press("ArrowUp");
    await box.fill("A longer message, edited in place.");
    await mine.getByRole("button", { name: "Save" }).click();
    await mine.getByText("edited", { exact: true }).waitFor();
    expect(await mine.locator(".body").innerText()).toBe("A longer message, edited in place.");

    // Delete asks first; Cancel keeps it.
    const gone = message(a, "line one");
    await gone.hover();
    await gone.getByRole("button", { name: "More actions" }).click();
    await a.getByRole("menuitem", { name: "Delete" }).click();
    const confirm = a.getByRole("dialog", { name: "Delete message?" });
    await confirm.waitFor();
    await checkBoth(a, "delete-confirm");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    await gone.hover();
    await gone.getByRole("button", { name: "More actions" }).click();
    await a.getByRole("menuitem", { name: "Delete" }).click();
    await confirm.getByRole("button", { name: "Delete" }).click();
    await a.getByRole("log").getByText("Message deleted").waitFor();

    // Drafts are kept per room, across rooms and a reload.
    await composer(a).fill("a draft for the first room");
    await newGroup(a, `other-${tag}`);
    expect(await composer(a).inputValue()).toBe("");
    await composer(a).fill("a draft for the second room");
    await openRoom(a, `compose-${tag}`);
    expect(await composer(a).inputValue()).toBe("a draft for the first room");
    await a.reload();
    await connected(a);
    expect(await composer(a).inputValue()).toBe("a draft for the first room");
    await composer(a).fill("");

    // Files by the picker, and by dropping them on the room.
    await a
      .locator("#attach")
      .setInputFiles({ name: "plan.txt", mimeType: "text/plain", buffer: Buffer.from("the plan") });
    await a.getByRole("list", { name: "Files to send" }).getByText("plan.txt").waitFor();
    await expect.poll(() => a.getByRole("button", { name: "Send", exact: true }).isDisabled()).toBe(false);
    await a.getByRole("button", { name: "Send", exact: true }).click();
    await a.getByRole("log").getByRole("button", { name: "Download plan.txt" }).waitFor();
    const drop = await a.evaluateHandle(() => {
      const { DataTransfer, File } = globalThis as unknown as PageGlobals;
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
      return dt;
    });
    await a.locator("main.chat").dispatchEvent("drop", { dataTransfer: drop });
    await a.getByRole("list", { name: "Files to send" }).getByText("dropped.txt").waitFor();
    await composer(a).fill("with a dropped file");
    await expect.poll(() => a.getByRole("button", { name: "Send", exact: true }).isDisabled()).toBe(false);
    await composer(a).press("Enter");
    await message(a, "with a dropped file").getByRole("button", { name: "Download dropped.txt" }).waitFor();
    expect(roomIdOf(a)).toBe(first);
  });

  it("routes survive reload and back; message links; direct chats; honest offline state; keyboard", async () => {
    const ana = person("Eve");
    const ben = person("Finn");
    const A = await register(base, ana);
    await register(base, ben);
    const a = await openPage(browser, base, contexts);
    await logIn(a, ana);
    const b = await openPage(browser, base, contexts, PHONE);
    await logIn(b, ben);
    await checkScreen(b, "room-list-empty");

    const roomId = await newGroup(a, `routes-${tag}`);
    expect(new URL(a.url()).pathname).toBe(`/rooms/${roomId}`);
    await addMember(a, ben);
    await send(a, "first, for the link");
    await message(a, "first, for the link").waitFor();
    for (let i = 1; i <= 5; i++) await send(a, `message ${i}`);
    await message(a, "message 5").waitFor();
    // A reload opens the same room; back goes to where I was before it.
    await a.reload();
    await connected(a);
    expect(new URL(a.url()).pathname).toBe(`/rooms/${roomId}`);
    await a.getByRole("heading", { name: `# routes-${tag}` }).waitFor();
    await a.getByRole("link", { name: "Room info" }).click();
    await a.waitForURL(`**/rooms/${roomId}/info`);
    await a.goBack();
    await a.waitForURL(new RegExp(`/rooms/${roomId}$`));
    await a.goForward();
    await a.getByRole("heading", { name: "Room info" }).waitFor();
    await a.goBack();

    // A link to a message opens the room there, even in a fresh page.
    const history = await A.client.messages.history(roomId, { limit: 50 });
    const seq = history.messages.find((m) => m.body === "first, for the link")?.seq as number;
    const linked = await openPage(browser, base, contexts, DESKTOP, `/rooms/${roomId}/messages/${seq}`);
    await logIn(linked, ana);
    await expect
      .poll(() => message(linked, "first, for the link").evaluate((el) => el.classList.contains("highlighted")))
      .toBe(true);

    // On the phone: the list alone, then the room alone with a way back.
    await b
      .getByRole("navigation", { name: "Rooms" })
      .getByRole("link", { name: new RegExp(`routes-${tag}`) })
      .click();
    await connected(b);
    expect(await b.getByRole("navigation", { name: "Rooms" }).isVisible()).toBe(false);
    await b.getByRole("link", { name: "All rooms" }).click();
    await b.getByRole("navigation", { name: "Rooms" }).waitFor();
    await b.goBack();
    await connected(b);

    // Honest state: offline says so, and nobody is claimed online.
    await a.getByRole("link", { name: "Room info" }).click();
    await a.locator(".online-dot").first().waitFor();
    await a.context().setOffline(true);
    await connection(a)
      .filter({ hasText: "Offline — messages will send when you're back" })
      .waitFor({ timeout: 20_000 });
    expect(await a.locator(".online-dot").count()).toBe(0);
    expect(await a.locator(".chat-sub").innerText()).not.toMatch(/online/);
    await send(a, "typed while offline");
    await a
      .getByRole("article", { name: "Your message, sending" })
      .getByText("it will go when you're back online")
      .waitFor();
    await checkBoth(a, "offline");
    await a.context().setOffline(false);
    await connected(a);
    await message(b, "typed while offline").waitFor({ timeout: 30_000 });

    // Direct chats are named after the other person and offer no "Add member".
    await a.getByRole("link", { name: "Close room info" }).click();
    await a.getByRole("button", { name: "New direct chat" }).click();
    await a.getByLabel("Find a person").fill(ben.name);
    await a.getByRole("button", { name: `Message ${ben.name}` }).click();
    await connected(a);
    await a.getByRole("heading", { name: ben.name }).waitFor();
    await a.getByRole("link", { name: "Room info" }).click();
    await a.getByRole("heading", { name: "Chat info" }).waitFor();
    expect(await a.getByRole("button", { name: "Add member" }).count()).toBe(0);
    await checkBoth(a, "direct-chat-info");

    // Keyboard: a message's menu opens on its first item, arrows move, Escape closes back to the button.
    await a.getByRole("link", { name: "Close room info" }).click();
    await send(a, "keyboard me");
    const km = message(a, "keyboard me");
    await km.waitFor();
    await km.getByRole("button", { name: "More actions" }).focus();
    await a.keyboard.press("Enter");
    await expect
      .poll(() => a.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.textContent))
      .toBe("Copy link");
    await a.keyboard.press("ArrowDown");
    await expect
      .poll(() => a.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.textContent))
      .toBe("Pin");
    await a.keyboard.press("Escape");
    await expect
      .poll(() =>
        a.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.getAttribute("aria-label")),
      )
      .toBe("More actions");
    // A dialog takes focus, and Escape gives it back.
    await a.getByRole("button", { name: "New group" }).focus();
    await a.keyboard.press("Enter");
    await expect
      .poll(() => a.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.id))
      .toBe("group-name");
    await a.keyboard.press("Escape");
    await a.getByRole("dialog").waitFor({ state: "detached" });
  });

  it("every other screen at both widths: sign-in, sign-up, rooms, new chats, notifications, settings, the API reference", async () => {
    const who = person("Gus");
    const other = person("Hal");
    const G = await register(base, who);
    const H = await register(base, other);
    // Something in the list and a notification.
    const room = await G.client.rooms.create({ name: `welcome-${tag}` });
    await G.client.rooms.invite(room.id, H.id);
    await H.client.messages.send(room.id, { clientMsgId: `n1-${tag}`, body: `@${who.name} welcome aboard!` });
    const p = await openPage(browser, base, contexts);
    await checkBoth(p, "sign-in");
    await p.getByRole("button", { name: "Create an account" }).click();
    await checkBoth(p, "sign-up");
    await p.getByRole("button", { name: "I have an account" }).click();
    await logIn(p, who);
    await p.getByRole("navigation", { name: "Rooms" }).getByText(`# welcome-${tag}`).waitFor();
    await checkBoth(p, "room-list");
    await p.getByRole("button", { name: "New group" }).click();
    await checkBoth(p, "new-group");
    await p.keyboard.press("Escape");
    await p.getByRole("button", { name: "New direct chat" }).click();
    await p.getByLabel("Find a person").fill(other.name);
    await p.getByRole("button", { name: `Message ${other.name}` }).waitFor();
    await checkBoth(p, "new-direct-chat");
    await p.keyboard.press("Escape");
    await p.getByRole("button", { name: /^Notifications/ }).click();
    await p.getByRole("dialog", { name: "Notifications" }).waitFor();
    await checkBoth(p, "notifications");
    await p.keyboard.press("Escape");
    await p.getByRole("link", { name: /settings/ }).click();
    await p.getByRole("heading", { name: "Settings" }).waitFor();
    await checkBoth(p, "settings");

    // The API reference: Swagger UI from the build, over /openapi.json, nothing from elsewhere.
    const outside: string[] = [];
    p.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) outside.push(r.url());
    });
    await p.goto(`${base}/docs`);
    await p.locator(".opblock").first().waitFor({ timeout: 30_000 });
    await p.getByText("/api/rooms/{id}/messages").first().waitFor();
    await checkBoth(p, "api-reference");
    expect(outside).toEqual([]);
  });
});
