/**
 * REST history under load (autocannon, closed loop with a fixed number of connections): the latest page
 * and a page older than the recent buffer, for edgechat and for the peer's Postgres-backed endpoint.
 */
import autocannon from "autocannon";

export interface HistoryResult {
  name: string;
  url: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

export async function restHistory(
  name: string,
  url: string,
  headers: Record<string, string>,
  o: { seconds: number; connections: number },
): Promise<HistoryResult> {
  const r = await autocannon({ url, headers, connections: o.connections, duration: o.seconds });
  return {
    name,
    url: url.replace(/^http:\/\/127\.0\.0\.1:\d+/, ""),
    requestsPerSecond: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}
