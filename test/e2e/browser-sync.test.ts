/**
 * The web app's kept room state in Debian's Chromium (playwright-core) against `npm run dev`: reactions,
 * receipts, system notices and reply quotes are shown the same after a reload as before it; a message
 * typed offline survives a reload made while still offline (IndexedDB outbox, app shell from the service
 * worker) and is delivered once when the network is back. Screenshots go to test-artifacts/screens/.
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
  for (const ctx of contexts) await ctx.close().catch(() => undefined);
  await browser?.close();
});

const tag = crypto.randomUUID().slice(0, 8);
const person = (name: string) => ({
  name: `${name} ${tag}`,
  email: `${name.toLowerCase()}-sync-${tag}@example.test`,
  password: "correct horse battery",
});

async function page(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
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
}

const connection = (p: Page) => p.getByRole("status", { name: "Connection" });
const message = (p: Page, text: string) =>
  p
    .getByRole("log")
    .locator("article.msg")
    .filter({ has: p.locator(".body", { hasText: text }) });

/** Two people in a new room: Ana made it and added Ben; both have it open. */
async function twoInARoom(room: string) {
  const ana = person(`Ana${room}`);
  const ben = person(`Ben${room}`);
  const a = await page();
  await signUp(a, ana);
  const b = await page();
  await signUp(b, ben);
  await a.getByRole("button", { name: "New group" }).click();
  await a.getByLabel("Room name").fill(`${room}-${tag}`);
  await a.getByRole("button", { name: "Create" }).click();
  await connection(a).filter({ hasText: "Connected" }).waitFor();
  await a.getByRole("link", { name: "Room info" }).click();
  await a.getByRole("button", { name: "Add member" }).click();
  await a.getByLabel("Add someone to this room").fill(ben.name);
  await a.getByRole("button", { name: `Add ${ben.name}` }).click();
  await a.getByRole("link", { name: "Close room info" }).click();
  await b.getByRole("link", { name: new RegExp(`${room}-${tag}`) }).click({ timeout: 15_000 });
  await connection(b).filter({ hasText: "Connected" }).waitFor();
  return { a, b, ana, ben };
}

interface PageCopy {
  textContent: string | null;
  querySelectorAll(selector: string): Iterable<{ remove(): void }>;
}

/** What the room shows, as text, once it stops changing (the live state settles after a reload). */
async function shown(p: Page): Promise<string> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    // Without the times ("just now" may turn into "1 min ago" in between).
    const now = await p.getByRole("log").evaluate((el) => {
      const copy = (el as unknown as { cloneNode(deep: boolean): PageCopy }).cloneNode(true);
      for (const t of copy.querySelectorAll("time")) t.remove();
      return copy.textContent ?? "";
    });
    if (now === last) return now;
    last = now;
    await p.waitForTimeout(200);
  }
  return last;
}

describe("the web app's room state in Chromium", () => {
  it("shows reactions, receipts, system messages and reply quotes after a reload exactly as before it", async () => {
    const { a, b, ana, ben } = await twoInARoom("reload");
    // Ana's room shows Ben joining as a centred notice, not a message.
    await a.locator(".notice", { hasText: `${ben.name} joined` }).waitFor();

    await send(a, "shall we ship on friday?");
    const asked = message(b, "shall we ship on friday?");
    await asked.waitFor();
    const seq = await asked.getAttribute("data-seq");
    // Ben reacts 👍 and 🎉 from the picker; Ana adds 👍 and takes back a ❤️ she gave.
    const react = async (p: Page, emoji: string, shows: RegExp) => {
      const m = message(p, "shall we ship on friday?");
      await m.hover();
      await m.getByRole("button", { name: "React", exact: true }).click();
      await p.getByRole("button", { name: `React ${emoji} to message ${seq}` }).click();
      await m.getByRole("button", { name: shows }).first().waitFor();
    };
    await react(b, "👍", /^👍 1$/);
    await react(b, "🎉", /^🎉 1$/);
    const mine = message(a, "shall we ship on friday?");
    await react(a, "👍", /^👍 2$/);
    await react(a, "❤️", /^❤️ 1$/);
    await mine.hover();
    await mine.getByRole("button", { name: "React", exact: true }).click();
    await a.getByRole("button", { name: `React ❤️ to message ${seq}` }).click();
    await expect.poll(() => mine.getByRole("button", { name: /❤️/ }).count()).toBe(0);
    expect(await mine.getByRole("button", { name: "👍 2" }).getAttribute("aria-pressed")).toBe("true");
    expect(await mine.getByRole("button", { name: /❤️/ }).count()).toBe(0);

    // Ben answers in a reply: the quote names Ana and shows what she wrote.
    await asked.hover();
    await asked.getByRole("button", { name: "Reply" }).click();
    await send(b, "friday works, the release notes are ready");
    const reply = message(a, "friday works");
    await reply.waitFor();
    await reply.locator(".quote", { hasText: `${ana.name} shall we ship on friday?` }).waitFor();
    // Ana's last message is seen by Ben.
    await send(a, "great, see you then");
    await message(b, "great, see you then").waitFor();
    await a.getByText(`Seen by ${ben.name}`).waitFor();
    // A rename shows as a notice too.
    const seeder = new EdgechatClient({ baseUrl: base });
    await seeder.login({ email: ana.email, password: ana.password });
    const roomId = new URL(a.url()).pathname.split("/")[2] as string;
    await seeder.rooms.update(roomId, { name: `reloaded-${tag}` });
    await a.locator(".notice", { hasText: `renamed the room to "reloaded-${tag}"` }).waitFor();
    await b.locator(".notice", { hasText: `renamed the room to "reloaded-${tag}"` }).waitFor();

    const before = { a: await shown(a), b: await shown(b) };
    await a.screenshot({ path: `${SHOTS}/sync-before-reload.png` });
    await a.reload();
    await b.reload();
    for (const p of [a, b]) await connection(p).filter({ hasText: "Connected" }).waitFor();
    await a.getByText(`Seen by ${ben.name}`).waitFor();
    await message(a, "shall we ship on friday?").getByRole("button", { name: "👍 2" }).waitFor();
    const after = { a: await shown(a), b: await shown(b) };
    await a.screenshot({ path: `${SHOTS}/sync-after-reload.png` });
    expect(after.a).toBe(before.a);
    expect(after.b).toBe(before.b);
    for (const text of ["👍 2", "🎉 1", `Seen by ${ben.name}`, `${ben.name} joined`, "friday works"]) {
      expect(after.a).toContain(text);
    }
    // Mine stays mine after the reload (pressed), and Ben's own 🎉 is his.
    const again = message(a, "shall we ship on friday?");
    expect(await again.getByRole("button", { name: "👍 2" }).getAttribute("aria-pressed")).toBe("true");
    expect(await again.getByRole("button", { name: "🎉 1" }).getAttribute("aria-pressed")).toBe("false");
    expect(
      await message(b, "shall we ship on friday?").getByRole("button", { name: "🎉 1" }).getAttribute("aria-pressed"),
    ).toBe("true");
    seeder.close();
  });

  it("delivers a message typed offline once, after a reload made while still offline", async () => {
    const { a, b, ana } = await twoInARoom("offline");
    await send(a, "online before");
    await message(b, "online before").waitFor();
    // The shell is cached by the service worker, so the page can load with no network.
    const shellCached = () =>
      a.evaluate(async () => {
        const g = globalThis as unknown as {
          navigator: { serviceWorker: { controller: unknown } };
          caches: { match(url: string): Promise<unknown> };
        };
        return g.navigator.serviceWorker.controller !== null && (await g.caches.match("/")) !== undefined;
      });
    await expect.poll(shellCached, { timeout: 15_000 }).toBe(true);

    await a.context().setOffline(true);
    await connection(a)
      .filter({ hasText: /Offline|Reconnecting|Connecting/ })
      .waitFor({ timeout: 20_000 });
    await send(a, "typed while offline");
    await a
      .getByRole("article", { name: "Your message, sending" })
      .filter({ hasText: "typed while offline" })
      .waitFor();
    await a.reload();
    // Still offline: the app opens the room from the cache and still has the send, waiting.
    await a
      .getByRole("article", { name: "Your message, sending" })
      .filter({ hasText: "typed while offline" })
      .waitFor({ timeout: 20_000 });
    await a.screenshot({ path: `${SHOTS}/sync-offline-reloaded.png` });
    expect(await message(b, "typed while offline").count()).toBe(0);

    await a.context().setOffline(false);
    await message(b, "typed while offline").waitFor({ timeout: 30_000 });
    await message(a, "typed while offline").waitFor({ timeout: 30_000 });
    await connection(a).filter({ hasText: "Connected" }).waitFor();
    expect(await a.getByRole("article", { name: "Your message, sending" }).count()).toBe(0);
    await a.screenshot({ path: `${SHOTS}/sync-offline-delivered.png` });
    // Once, for everyone, and once in the room's history.
    await b.reload();
    await connection(b).filter({ hasText: "Connected" }).waitFor();
    for (const p of [a, b]) expect(await message(p, "typed while offline").count()).toBe(1);
    const reader = new EdgechatClient({ baseUrl: base });
    await reader.login({ email: ana.email, password: ana.password });
    const roomId = new URL(a.url()).pathname.split("/")[2] as string;
    const history = await reader.messages.history(roomId, { limit: 50 });
    expect(history.messages.filter((m) => m.body === "typed while offline")).toHaveLength(1);
    reader.close();
  });
});
