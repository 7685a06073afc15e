/** Renders counters (as stored by src/lib/metrics.ts) and scrape-time gauges in Prometheus text format 0.0.4. */
import { seriesKey } from "../lib/metrics";

const HELP: Record<string, [type: "counter" | "gauge" | "histogram", help: string]> = {
  edgechat_http_requests_total: ["counter", "HTTP requests by route pattern, method and status"],
  edgechat_http_request_duration_seconds: ["histogram", "HTTP request latency by route pattern"],
  edgechat_messages_accepted_total: ["counter", "Messages accepted by room objects"],
  edgechat_messages_throttled_total: ["counter", "Sends refused by the in-room throttle"],
  edgechat_queue_jobs_total: ["counter", "Queue jobs by kind and outcome (processed, retried, dead_lettered)"],
  edgechat_live_sockets: ["gauge", "Open WebSockets in recently active rooms"],
  edgechat_outbox_depth: ["gauge", "Messages and changes waiting to be written to Postgres, summed over rooms"],
  edgechat_outbox_oldest_age_seconds: ["gauge", "Age of the oldest outbox row in any room"],
  edgechat_rooms_unreachable: ["gauge", "Rooms that did not answer the scrape in time"],
  edgechat_dead_letters: ["gauge", "Jobs recorded in dead_letters"],
};

function family(key: string): string {
  const name = key.split("{")[0] ?? key;
  return name.replace(/_(bucket|sum|count)$/, (m) => (HELP[name.slice(0, -m.length)] ? "" : m));
}

export function renderMetrics(counters: Record<string, string | number>, gauges: [string, number][]): string {
  const series = new Map<string, string[]>();
  const add = (key: string, value: string | number) => {
    const fam = family(key);
    const lines = series.get(fam) ?? [];
    lines.push(`${key} ${value}`);
    series.set(fam, lines);
  };
  for (const [key, value] of Object.entries(counters).sort(([a], [b]) => a.localeCompare(b))) add(key, value);
  for (const [name, value] of gauges) add(seriesKey(name), value);
  const out: string[] = [];
  for (const [fam, lines] of series) {
    const meta = HELP[fam];
    if (meta) out.push(`# HELP ${fam} ${meta[1]}`, `# TYPE ${fam} ${meta[0]}`);
    out.push(...lines);
  }
  return `${out.join("\n")}\n`;
}
