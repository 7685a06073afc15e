/** GET /metrics: Prometheus text with request, message and queue counters and live gauges; hidden otherwise. */
import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";
import { seriesKey } from "../../src/lib/metrics";
import worker from "../../src/worker";
import { renderMetrics } from "../../src/worker/metrics-text";
import { createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { roomWith, sendAndAck } from "../helpers/rooms";
import { useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();

async function scrape(token = "test-metrics-token"): Promise<Map<string, number>> {
  const res = await fetchText(token);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return parse(await res.text());
}

async function fetchText(token: string) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request("http://edgechat.test/metrics", { headers: { authorization: `Bearer ${token}` } }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const value = (m: Map<string, number>, name: string, labels = {}) => m.get(seriesKey(name, labels)) ?? 0;

describe("GET /metrics", () => {
  it("is a missing route without the metrics token or an admin's token, and when disabled", async () => {
    const member = await createUser("member");
    for (const token of [undefined, member.token, "wrong-token"]) {
      expect((await api("GET", "/metrics", token)).status).toBe(404);
    }
    const ctx = createExecutionContext();
    const off = await worker.fetch(
      new Request("http://edgechat.test/metrics", { headers: { authorization: "Bearer test-metrics-token" } }),
      { ...env, METRICS_ENABLED: "false" },
      ctx,
    );
    expect(off.status).toBe(404);
    const boss = await createUser("boss");
    await db().update(users).set({ isAdmin: true }).where(eq(users.id, boss.id));
    expect((await scrape(boss.token)).has("edgechat_live_sockets")).toBe(true);
  });

  it("counts requests by route pattern, accepted and throttled messages, and shows live sockets", async () => {
    const before = await scrape();
    const { room, users: members } = await roomWith(2);
    const [a] = members as [(typeof members)[0]];
    for (let i = 0; i < 2; i++) expect((await api("GET", `/api/rooms/${room.id}`, a.token)).status).toBe(200);
    const socket = await pool.join(room.id, a.token);
    for (let i = 1; i <= 3; i++) await sendAndAck(socket, `m${i}`);
    socket.send({ type: "send", clientMsgId: "m4", body: "over the limit" });
    await socket.next("throttled");

    const after = await scrape();
    const route = { method: "GET", route: "/api/rooms/:id", status: 200 };
    expect(
      value(after, "edgechat_http_requests_total", route) - value(before, "edgechat_http_requests_total", route),
    ).toBeGreaterThanOrEqual(2);
    // Route patterns, never ids, as label values.
    expect([...after.keys()].some((k) => k.includes(room.id))).toBe(false);
    const count = value(after, "edgechat_http_request_duration_seconds_count", { route: "/api/rooms/:id" });
    expect(value(after, "edgechat_http_request_duration_seconds_bucket", { route: "/api/rooms/:id", le: "+Inf" })).toBe(
      count,
    );
    expect(
      value(after, "edgechat_messages_accepted_total") - value(before, "edgechat_messages_accepted_total"),
    ).toBeGreaterThanOrEqual(3);
    expect(
      value(after, "edgechat_messages_throttled_total") - value(before, "edgechat_messages_throttled_total"),
    ).toBeGreaterThanOrEqual(1);
    expect(value(after, "edgechat_live_sockets")).toBeGreaterThanOrEqual(1);
    expect(after.has("edgechat_outbox_depth")).toBe(true);
    expect(after.has("edgechat_dead_letters")).toBe(true);
  });

  it("counts queue jobs by kind and outcome", async () => {
    const before = await scrape();
    const batch = createMessageBatch<unknown>("edgechat-notifications", [
      { id: `metrics-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body: { kind: "nonsense" } },
    ]);
    await worker.queue(batch as MessageBatch<unknown>, env);
    const after = await scrape();
    const series = { kind: "invalid", outcome: "dead_lettered" };
    expect(value(after, "edgechat_queue_jobs_total", series) - value(before, "edgechat_queue_jobs_total", series)).toBe(
      1,
    );
  });
});

describe("Prometheus text", () => {
  it("writes HELP and TYPE once per family, histogram parts under their family, labels escaped", () => {
    const text = renderMetrics(
      {
        [seriesKey("edgechat_http_request_duration_seconds_bucket", { route: "/x", le: "+Inf" })]: 2,
        [seriesKey("edgechat_http_request_duration_seconds_sum", { route: "/x" })]: 0.5,
        [seriesKey("edgechat_http_request_duration_seconds_count", { route: "/x" })]: 2,
        [seriesKey("edgechat_http_requests_total", { route: 'a"b\\c', method: "GET", status: 200 })]: 7,
      },
      [["edgechat_live_sockets", 3]],
    );
    expect(text).toBe(
      [
        "# HELP edgechat_http_request_duration_seconds HTTP request latency by route pattern",
        "# TYPE edgechat_http_request_duration_seconds histogram",
        'edgechat_http_request_duration_seconds_bucket{le="+Inf",route="/x"} 2',
        'edgechat_http_request_duration_seconds_count{route="/x"} 2',
        'edgechat_http_request_duration_seconds_sum{route="/x"} 0.5',
        "# HELP edgechat_http_requests_total HTTP requests by route pattern, method and status",
        "# TYPE edgechat_http_requests_total counter",
        'edgechat_http_requests_total{method="GET",route="a\\"b\\\\c",status="200"} 7',
        "# HELP edgechat_live_sockets Open WebSockets in recently active rooms",
        "# TYPE edgechat_live_sockets gauge",
        "edgechat_live_sockets 3",
        "",
      ].join("\n"),
    );
  });
});
