/**
 * The web app in Debian's Chromium (playwright-core) against `npm run dev`: two people chat, see typing
 * and read receipts, one goes offline and comes back to every message, and history scrolls back past
 * the Redis buffer into Postgres. Screenshots of the main screens go to test-artifacts/screens/.
 */
import { mkdirSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EdgechatClient } from "../../src/client";

const base = inject("e2eBaseUrl");
const SHOTS = "test-artifacts/screens";
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});
afterAll(async () => {
  await browser?.close();
});

const tag = crypto.randomUUID().slice(0, 8);
const person = (name: string) => ({
  name: `${name} ${tag}`,
  email: `${name.toLowerCase()}-${tag}@example.test`,
  password: "correct horse battery",
});

async function page(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  contexts.push(ctx);
  const p = await ctx.newPage();
  await p.goto(base);
  return p;
}

async function signUp(p: Page, who: ReturnType<typeof person>): Promise<void> {
  await p.getByRole("button", { name: "Create an account" }).click();
  await p.getByLabel("Display name").fill(who.name);
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Sign up" }).click();
  await p.getByRole("button", { name: "New group" }).waitFor();
}

async function send(p: Page, text: string): Promise<void> {
  await p.getByPlaceholder("Write a message").fill(text);
  await p.getByRole("button", { name: "Send", exact: true }).click();
  await p.getByPlaceholder("Write a message").and(p.locator(":placeholder-shown")).waitFor();
}

describe("the web app in Chromium", () => {
  it("two people chat: typing, receipts, offline and back, and history from Postgres", async () => {
    const ana = person("Ana");
    const ben = person("Ben");
    const b = await page();
    await b.screenshot({ path: `${SHOTS}/login.png` });
    await signUp(b, ben);
    const a = await page();
    await signUp(a, ana);

    // Ana makes a room and adds Ben by searching for him.
    await a.getByRole("button", { name: "New group" }).click();
    await a.getByLabel("Room name").fill(`design-${tag}`);
    await a.getByRole("button", { name: "Create" }).click();
    await a.getByRole("status", { name: "Connection" }).filter({ hasText: "Connected" }).waitFor();
    await a.getByRole("link", { name: "Room info" }).click();
    await a.getByRole("button", { name: "Add member" }).click();
    await a.getByLabel("Add someone to this room").fill("Ben");
    await a.getByRole("button", { name: `Add ${ben.name}` }).click();
    await a.getByRole("link", { name: "Close room info" }).click();

    // Ben finds it in his room list and opens it.
    await b.getByRole("link", { name: new RegExp(`design-${tag}`) }).click({ timeout: 15_000 });
    await b.getByRole("status", { name: "Connection" }).filter({ hasText: "Connected" }).waitFor();

    // Typing shows on the other side; a message arrives; Ben's view reads it and Ana sees the receipt.
    await a.getByPlaceholder("Write a message").pressSequentially("hel");
    await b.getByText(`${ana.name} is typing…`).waitFor();
    await send(a, "hello Ben");
    await b.getByRole("log").getByText("hello Ben").waitFor();
    await a.getByText(`Seen by ${ben.name}`).waitFor();
    await send(b, "hi Ana, all good");
    await a.getByRole("log").getByText("hi Ana, all good").waitFor();
    await a.screenshot({ path: `${SHOTS}/chat.png` });

    // Ben goes offline; Ana keeps writing; Ben comes back to every message, once each.
    await b.context().setOffline(true);
    await b
      .getByRole("status", { name: "Connection" })
      .filter({ hasText: /Offline|Reconnecting|Connecting/ })
      .waitFor({
        timeout: 20_000,
      });
    await b.screenshot({ path: `${SHOTS}/offline.png` });
    for (const text of ["while you were away 1", "while you were away 2", "while you were away 3"]) await send(a, text);
    await b.context().setOffline(false);
    for (const text of ["while you were away 1", "while you were away 2", "while you were away 3"]) {
      await b.getByRole("log").getByText(text).waitFor({ timeout: 30_000 });
      expect(await b.getByRole("log").getByText(text, { exact: true }).count()).toBe(1);
    }
    await b.getByRole("status", { name: "Connection" }).filter({ hasText: "Connected" }).waitFor();

    // History: 40 older messages, most beyond the 10-message Redis buffer, reached by scrolling up.
    const seeder = new EdgechatClient({ baseUrl: base });
    await seeder.login({ email: ana.email, password: ana.password });
    const room = await seeder.rooms.create({ name: `history-${tag}` });
    for (let i = 1; i <= 40; i++) {
      await seeder.messages.send(room.id, { clientMsgId: `h${i}`, body: `old message ${i}` });
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5200)); // in-room throttle: 20 per 5 s here
    }
    seeder.close();
    await a.reload();
    await a.getByRole("link", { name: new RegExp(`history-${tag}`) }).click({ timeout: 15_000 });
    await a.getByRole("log").getByText("old message 40", { exact: true }).waitFor();
    const first = a.getByRole("log").getByText("old message 1", { exact: true });
    for (let i = 0; i < 10 && !(await first.isVisible()); i++) {
      await a.getByRole("log").evaluate((el) => {
        el.scrollTop = 0;
      });
      await a.waitForTimeout(300);
    }
    await first.waitFor();
    expect(await a.locator("article.msg").count()).toBe(40);

    await a.getByRole("button", { name: /^Notifications/ }).click();
    await a.screenshot({ path: `${SHOTS}/rooms-and-notifications.png` });
    for (const ctx of contexts) await ctx.close();
  });
});
