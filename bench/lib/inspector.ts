/** workerd's V8 inspector (wrangler dev opens one on the worker runtime): finding it and talking CDP. */
import { execFileSync } from "node:child_process";
import WebSocket from "ws";

/**
 * wrangler dev's inspector proxy (port 9229 unless set, in a second workerd) for the worker runtime. The
 * runtime's own inspector (`core:user:<name>`) holds one session, and the proxy takes it back whenever
 * it reconnects, so a direct session goes silent mid-run; the proxy's session is the stable one.
 */
export async function inspectorUrl(runtimePids: number[]): Promise<string> {
  const listing = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  const found: { webSocketDebuggerUrl?: string; id: string }[] = [];
  for (const line of listing.split("\n")) {
    if (!runtimePids.some((pid) => line.includes(`pid=${pid},`))) continue;
    const port = /127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    // The worker's own ports answer too (the web app's fallback page): only the inspector returns JSON.
    // Some of its ports speak capnp and never answer HTTP: without a timeout the probe waits forever.
    const targets = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json() as Promise<{ webSocketDebuggerUrl?: string; id: string }[]>)
      .then((list) => (Array.isArray(list) ? list : []))
      .catch(() => []);
    found.push(...targets.filter((t) => t.webSocketDebuggerUrl));
  }
  const target = found.find((t) => !t.id.startsWith("core:")) ?? found[0];
  if (target?.webSocketDebuggerUrl) return target.webSocketDebuggerUrl;
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
