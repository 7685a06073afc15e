/**
 * A webhook receiver for tests (Node side). Each test posts to its own path `/hook/<name>` and reads
 * back what arrived; `/__control/<name>` `{fail, status, delayMs, reply?}` makes the next `fail` calls answer
 * `status` after `delayMs` (with `reply` as the raw body when given), to test retries, timeouts, recovery
 * and what a receiver answers (the moderation webhook's verdicts).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

interface Behaviour {
  fail: number;
  status: number;
  delayMs: number;
  /** The raw body of those answers (default `{"ok": false}`). */
  reply?: string;
}

export interface ReceivedCall {
  at: number;
  headers: Record<string, string>;
  body: string;
  answered: number;
}

export async function startWebhookReceiver(): Promise<{ url: string; stop: () => Promise<void> }> {
  const calls = new Map<string, ReceivedCall[]>();
  const behaviour = new Map<string, Behaviour>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const [, kind, name = ""] = (req.url ?? "").split("?")[0]?.split("/") ?? [];
      const reply = (status: number, json?: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(json === undefined ? "" : JSON.stringify(json));
      };
      if (kind === "__control" && req.method === "POST") {
        behaviour.set(name, { fail: 0, status: 500, delayMs: 0, ...(JSON.parse(body || "{}") as Partial<Behaviour>) });
        return reply(204);
      }
      if (kind === "__calls" && req.method === "GET") return reply(200, calls.get(name) ?? []);
      if (kind !== "hook" || req.method !== "POST") return reply(404, { error: "unknown path" });
      const b = behaviour.get(name);
      const failing = b !== undefined && b.fail > 0;
      if (b && failing) b.fail -= 1;
      const status = failing ? (b?.status ?? 500) : 200;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const list = calls.get(name) ?? [];
      list.push({ at: Date.now(), headers, body, answered: status });
      calls.set(name, list);
      const answer = () => {
        if (!failing || b?.reply === undefined) return reply(status, { ok: !failing });
        res.writeHead(status, { "content-type": "application/json" });
        res.end(b.reply);
      };
      setTimeout(answer, failing ? (b?.delayMs ?? 0) : 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
