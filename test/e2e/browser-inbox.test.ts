/**
 * The sidebar runs on the inbox socket (issue 25): badges and previews follow messages in any room within
 * a second, a read on one browser clears the badge on another, and over a minute of activity the app asks
 * `GET /api/rooms` for nothing at all (the inbox's snapshot replaced the list request, and there is no
 * polling). Screenshots go to test-artifacts/screens/.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EdgechatClient } from "../../src/client";
import { DESKTOP, launch, openPage, openRoom, people, SHOTS, signUp } from "./web-app";

const base = inject("e2eBaseUrl");
const person = people(`inbox-${crypto.randomUUID().slice(0, 6)}`);
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
});

/** Every `GET /api/rooms` (the list itself, not a room's own routes) the page makes. */
function countRoomListReads(p: Page): () => number {
  let n = 0;
  p.on("request", (r) => {
    const url = new URL(r.url());
    if (r.method() === "GET" && url.pathname === "/api/rooms") n++;
  });
  return () => n;
}

async function signIn(p: Page, who: ReturnType<typeof person>): Promise<void> {
  await p.getByLabel("Email").fill(who.email);
  await p.getByLabel("Password").fill(who.password);
  await p.getByRole("button", { name: "Log in", exact: true }).click();
  await p.getByRole("button", { name: "New group" }).waitFor();
}

const badge = (p: Page, room: string) =>
  p
    .getByRole("navigation", { name: "Rooms" })
    .getByRole("link", { name: new RegExp(room) })
    .locator(".badge");

describe("the sidebar on the inbox", () => {
  it("updates badges and previews live in every room, clears them across browsers, and never polls", async () => {
    const ana = person("Ana");
    const ben = person("Ben");
    // Ben is a server-side client (the SDK) that talks in two rooms Ana is in.
    const benClient = new EdgechatClient({ baseUrl: base });
    await benClient.register({ email: ben.email, displayName: ben.name, password: ben.password });

    const first = await openPage(browser, base, contexts, DESKTOP);
    const reads = countRoomListReads(first);
    await signUp(first, ana);
    const anaId = (await benClient.users.search(ana.name))[0]?.id as string;
    const rooms = [];
    for (const name of ["inbox one", "inbox two"]) {
      const room = await benClient.rooms.create({ name, members: [anaId] });
      rooms.push(room);
    }
    // Both rooms reach the list without a reload or a list request.
    await first.getByRole("link", { name: /inbox one/ }).waitFor({ timeout: 5000 });
    await first.getByRole("link", { name: /inbox two/ }).waitFor({ timeout: 5000 });

    const second = await openPage(browser, base, contexts, DESKTOP);
    const reads2 = countRoomListReads(second);
    await signIn(second, ana);

    // A minute of activity, spread over both rooms: each message shows within a second on both screens.
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < 60_000) {
      const room = rooms[i % 2] as { id: string; name: string | null };
      const body = `news ${i}`;
      const sentAt = Date.now();
      await benClient.messages.send(room.id, { clientMsgId: `n-${i}`, body });
      for (const p of [first, second]) {
        await p.getByRole("navigation", { name: "Rooms" }).getByText(body).waitFor({ timeout: 5000 });
      }
      expect(Date.now() - sentAt).toBeLessThan(2500);
      i++;
      await new Promise((r) => setTimeout(r, 2000));
    }
    await expect.poll(() => badge(first, "inbox one").textContent(), { timeout: 3000 }).toMatch(/\d+/);
    await first.screenshot({ path: `${SHOTS}/inbox-badges-desktop.png` });

    // Reading a room on one browser clears its badge on the other.
    await openRoom(first, /inbox one/);
    await expect.poll(() => badge(second, "inbox one").count(), { timeout: 3000 }).toBe(0);
    expect(await badge(second, "inbox two").count()).toBe(1);

    expect(reads()).toBe(0);
    expect(reads2()).toBe(0);
  }, 120_000);
});
