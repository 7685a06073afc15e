/**
 * Throttle burst: one user sends at `multiple` × the room's limit, open loop. Every send gets an ack or a
 * `throttled` reply; the allowed count is compared with what an exact sliding window allows for the same
 * send times (simulated here), and the latency of the allowed sends is reported.
 */
import WebSocket from "ws";
import { newHistogram, nowUs, summarize } from "../lib/histogram.ts";
import { sendFrame } from "../load/protocol.ts";
import type { SocketSpec } from "../load/subscribers.ts";

export async function throttleBurst(
  socket: SocketSpec,
  o: { limit: number; windowMs: number; multiple: number; seconds: number; bodyBytes: number },
) {
  const ws = new WebSocket(socket.url, { headers: socket.headers, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const sentAt = new Map<string, number>();
  const allowedLatency = newHistogram();
  const throttledLatency = newHistogram();
  let allowed = 0;
  let throttled = 0;
  let closedWith: number | null = null;
  ws.on("close", (code) => {
    closedWith = code;
  });
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; clientMsgId?: string };
    const at = frame.clientMsgId ? sentAt.get(frame.clientMsgId) : undefined;
    if (at === undefined) return;
    if (frame.type === "ack") {
      allowed++;
      allowedLatency.recordValue(Math.max(1, nowUs() - at));
    } else if (frame.type === "throttled") {
      throttled++;
      throttledLatency.recordValue(Math.max(1, nowUs() - at));
    }
  });
  // Start with an empty window: nothing sent by this user in the last windowMs.
  await new Promise((r) => setTimeout(r, o.windowMs));
  const rate = (o.limit / (o.windowMs / 1000)) * o.multiple;
  const total = Math.round(rate * o.seconds);
  const intervalUs = 1_000_000 / rate;
  const times: number[] = [];
  const start = nowUs();
  for (let i = 0; i < total && closedWith === null; i++) {
    const wait = (start + i * intervalUs - nowUs()) / 1000;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const now = nowUs();
    const id = `burst-${i}`;
    sentAt.set(id, now);
    times.push(now / 1000);
    ws.send(sendFrame(id, now, o.bodyBytes));
  }
  await new Promise((r) => setTimeout(r, 1000));
  ws.close();
  const expected = slidingWindowAllows(times, o.limit, o.windowMs);
  return {
    limit: o.limit,
    windowMs: o.windowMs,
    offeredPerSecond: Math.round(rate),
    sent: times.length,
    allowed,
    throttled,
    unanswered: times.length - allowed - throttled,
    expectedAllowed: expected,
    accuracy: expected ? Math.round((allowed / expected) * 1000) / 1000 : null,
    allowedLatency: summarize(allowedLatency),
    throttledLatency: summarize(throttledLatency),
    closedWith,
  };
}

/** How many of these send times (ms) an exact sliding window of `limit` per `windowMs` lets through. */
export function slidingWindowAllows(times: number[], limit: number, windowMs: number): number {
  const accepted: number[] = [];
  for (const t of times) {
    const live = accepted.filter((a) => a > t - windowMs);
    if (live.length < limit) accepted.push(t);
  }
  return accepted.length;
}
