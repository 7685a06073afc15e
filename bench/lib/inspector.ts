/** workerd's V8 inspector (wrangler dev opens one on the worker runtime): finding it and talking CDP. */
import { execFileSync } from "node:child_process";
import WebSocket from "ws";

export async function inspectorUrl(runtimePids: number[]): Promise<string> {
  const listing = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  for (const line of listing.split("\n")) {
    if (!runtimePids.some((pid) => line.includes(`pid=${pid},`))) continue;
    const port = /127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    // The worker's own ports answer too (the web app's fallback page): only the inspector returns JSON.
    const targets = await fetch(`http://127.0.0.1:${port}/json/list`)
      .then((r) => r.json() as Promise<{ webSocketDebuggerUrl?: string; id: string }[]>)
      .then((list) => (Array.isArray(list) ? list : []))
      .catch(() => []);
    const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
    if (target) return target.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${target.id}`;
  }
  throw new Error("no inspector found on the worker runtime");
}

export function cdp(url: string) {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map<number, (r: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  return {
    opened: new Promise<void>((r) => ws.once("open", () => r())),
    call: (method: string, params: object = {}) =>
      new Promise<unknown>((resolve) => {
        const n = ++id;
        pending.set(n, resolve);
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
    close: () => ws.close(),
  };
}
