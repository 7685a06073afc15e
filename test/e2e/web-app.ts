/**
 * What the web app's browser tests share: Debian's Chromium through playwright-core with an emoji font,
 * people who sign up through the UI, screenshots at desktop and phone width into test-artifacts/screens/,
 * the axe-core check (bundled from npm, injected from node_modules: nothing fetched) and the check that
 * nothing scrolls sideways.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { EdgechatClient } from "../../src/client";

export const SHOTS = "test-artifacts/screens";
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
const require = createRequire(import.meta.url);

/**
 * Emoji render as boxes without a colour emoji font: install Debian's where the tests run (as root, as CI
 * does), once per machine. A machine where that is not possible still runs the tests, with boxes.
 */
export function ensureEmojiFont(): void {
  const has = () => {
    try {
      return /emoji/i.test(execFileSync("fc-list", [], { encoding: "utf8" }));
    } catch {
      return false;
    }
  };
  if (has()) return;
  try {
    execFileSync(
      "sh",
      [
        "-c",
        "apt-get install -y fonts-noto-color-emoji || (apt-get update && apt-get install -y fonts-noto-color-emoji)",
      ],
      {
        stdio: "ignore",
        timeout: 180_000,
      },
    );
  } catch {
    console.warn("No emoji font could be installed: screenshots will show boxes for emoji");
  }
}

export async function launch(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  ensureEmojiFont();
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

export function people(tag: string) {
  return (name: string) => ({
    name: `${name} ${tag}`,
    email: `${name.toLowerCase().replace(/\W+/g, "-")}-${tag}@example.test`,
    password: "correct horse battery",
  });
}
export type Person = ReturnType<ReturnType<typeof people>>;

export async function openPage(
  browser: Browser,
  base: string,
  contexts: BrowserContext[],
  viewport = DESKTOP,
  path = "/",
): Promise<Page> {
  const ctx = await browser.newContext({
    viewport,
    ...(viewport.width < 600 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  contexts.push(ctx);
  const p = await ctx.newPage();
  p.on("pageerror", (err) => console.error(`page error: ${err.message}`));
  await p.goto(base + path);
  return p;
}

export async function signUp(p: Page, who: Person): Promise<void> {
  await p.getByRole("button", { name: "Create an account" }).click();
  await p.getByLabel("Display name").fill(who.name);
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Sign up" }).click();
  await p.getByRole("button", { name: "New group" }).waitFor();
}

export const connection = (p: Page) => p.getByRole("status", { name: "Connection" });
export const connected = (p: Page) => connection(p).filter({ hasText: "Connected" }).waitFor({ timeout: 20_000 });
export const composer = (p: Page) => p.getByRole("textbox", { name: "Message", exact: true });

export async function send(p: Page, text: string): Promise<void> {
  await composer(p).fill(text);
  await p.getByRole("button", { name: "Send", exact: true }).click();
}

/** A message in the room's log, by (part of) its text. */
export const message = (p: Page, text: string) =>
  p
    .getByRole("log")
    .locator("article.msg")
    .filter({ has: p.locator(".body", { hasText: text }) });

export async function newGroup(p: Page, name: string): Promise<string> {
  await p.getByRole("button", { name: "New group" }).click();
  await p.getByLabel("Room name").fill(name);
  const before = p.url();
  await p.getByRole("button", { name: "Create" }).click();
  await p.waitForURL((url) => /\/rooms\/[0-9a-f-]{36}$/.test(url.pathname) && url.href !== before);
  await p.getByRole("heading", { name: `# ${name}`, exact: true }).waitFor();
  await connected(p);
  return new URL(p.url()).pathname.split("/")[2] as string;
}

/** Room info → Add member → search → Add. */
export async function addMember(p: Page, who: Person): Promise<void> {
  await p.getByRole("link", { name: "Room info" }).click();
  await p.getByRole("button", { name: "Add member" }).click();
  await p.getByLabel("Add someone to this room").fill(who.name);
  await p.getByRole("button", { name: `Add ${who.name}` }).click();
  await p.getByRole("dialog").waitFor({ state: "detached" });
  await p.getByRole("link", { name: "Close room info" }).click();
}

export async function openRoom(p: Page, name: string | RegExp): Promise<void> {
  await p
    .getByRole("navigation", { name: "Rooms" })
    .getByRole("link", { name: typeof name === "string" ? new RegExp(escapeRegExp(name)) : name })
    .click({ timeout: 20_000 });
  await connected(p);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

let axeCode: string | undefined;
function axeSource(): string {
  axeCode ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  return axeCode;
}

/** The browser as the page functions here use it (the Node project compiles without the DOM's types). */
export interface PageElement {
  tagName: string;
  id: string;
  textContent: string | null;
  innerText: string;
  classList: Iterable<string> & { contains(name: string): boolean };
  nextElementSibling: PageElement | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; right: number; width: number; height: number };
  closest(selector: string): PageElement | null;
  cloneNode(deep: boolean): PageElement;
  querySelectorAll(selector: string): Iterable<PageElement & { remove(): void }>;
}
export interface PageGlobals {
  document: {
    activeElement: PageElement | null;
    documentElement: { clientWidth: number; scrollWidth: number };
    querySelectorAll(selector: string): Iterable<PageElement>;
  };
  getComputedStyle(el: PageElement): { position: string; visibility: string };
  DataTransfer: new () => { items: { add(file: unknown): void } };
  File: new (parts: string[], name: string, opts: { type: string }) => unknown;
}

/** The axe-core rules that matter here: serious and critical violations, none allowed. */
export async function expectAccessible(p: Page, screen: string): Promise<number> {
  // Evaluated through the DevTools protocol: the app's CSP (script-src 'self') rightly refuses a <script>.
  if (!(await p.evaluate(() => "axe" in globalThis))) await p.evaluate(axeSource());
  const result = await p.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals & {
      axe: { run: (ctx: unknown, opts: unknown) => Promise<AxeResult> };
    };
    return g.axe.run(g.document, { resultTypes: ["violations"] });
  });
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad.map(
    (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`,
  );
  expect(report, `axe on ${screen}`).toEqual([]);
  return result.violations.length;
}
interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
}

/** Nothing wider than the viewport: the page does not scroll sideways, and no element sticks out. */
export async function expectNoHorizontalOverflow(p: Page, screen: string): Promise<void> {
  const found = await p.evaluate(() => {
    const { document, getComputedStyle } = globalThis as unknown as PageGlobals;
    const width = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > width)
      out.push(`page scrolls to ${document.documentElement.scrollWidth}px`);
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (el.closest(".sr-only, .skip")) continue;
      // Inside a scroller that clips it (the sideways-hidden log, a menu's own box) is not overflow.
      if (r.right > width + 1 || r.left < -1) {
        const style = getComputedStyle(el);
        if (style.position === "fixed" && style.visibility === "hidden") continue;
        out.push(
          `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} spans ${Math.round(r.left)}..${Math.round(r.right)}`,
        );
      }
    }
    return out.slice(0, 10);
  });
  expect(found, `horizontal overflow on ${screen}`).toEqual([]);
}

/** One screenshot of a screen at the viewport's size, named for its width. */
export async function shot(p: Page, name: string): Promise<void> {
  const width = p.viewportSize()?.width ?? 0;
  await p.screenshot({ path: `${SHOTS}/${name}-${width < 600 ? "phone" : "desktop"}.png` });
}

/** A screen checked the same way at whatever width its page has: axe, no sideways scrolling, a picture. */
export async function checkScreen(p: Page, name: string): Promise<void> {
  // No hover effects in the pictures (a message's toolbar under the pointer).
  await p.mouse.move(p.viewportSize()?.width ?? 0, 0);
  await p.waitForTimeout(150);
  await expectNoHorizontalOverflow(p, name);
  await expectAccessible(p, name);
  await shot(p, name);
}

/** People made over the API (quicker than the sign-up form), who then log in through the page. */
export async function register(base: string, who: Person): Promise<{ client: EdgechatClient; id: string }> {
  const client = new EdgechatClient({ baseUrl: base });
  const user = await client.register({ email: who.email, password: who.password, displayName: who.name });
  return { client, id: user.id };
}

export async function logIn(p: Page, who: Person): Promise<void> {
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Log in" }).click();
  // The signed-in shell (on a phone at a room's address the room list is not shown).
  await p.locator(".shell").waitFor();
}

/** The same screen checked at desktop width, then at phone width, then back to the page's own size. */
export async function checkBoth(p: Page, name: string): Promise<void> {
  const size = p.viewportSize() ?? DESKTOP;
  await p.setViewportSize(DESKTOP);
  await checkScreen(p, name);
  await p.setViewportSize(PHONE);
  await checkScreen(p, name);
  await p.setViewportSize(size);
}
