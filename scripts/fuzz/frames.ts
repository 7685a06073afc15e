/**
 * Frame fuzzing over real sockets. Each fuzzed frame is followed by a probe ping that the room itself
 * answers (not the exact heartbeat text, which the runtime answers without the room), so the pongs
 * split the stream of answers per frame: a frame the schema refuses must get an `error` frame before
 * its probe's pong; a probe that never comes back is a hang.
 */
import fc from "fast-check";
import WebSocket from "ws";
import { PING_FRAME } from "../../src/protocol/frames.ts";
import { hostileValue, nearValid, notAnObject, toJsonText, valid } from "./arbitraries.ts";
import { frameSchema, parseFrame } from "./targets.ts";

const PROBE = '{ "type": "ping" }';
const SERVER_TYPES = new Set([
  "welcome",
  "message",
  "ack",
  "edited",
  "deleted",
  "receipt",
  "reaction",
  "pinned",
  "presence",
  "presence.batch",
  "typing",
  "resumed",
  // Protocol 2: the change log's member and room changes, catch-up's end, a blocked author's stand-in,
  // and several changes in one frame for sockets that asked for batching.
  "member",
  "room",
  "synced",
  "hidden",
  "batch",
  "throttled",
  "auth.expiring",
  "auth.refreshed",
  "error",
  "pong",
]);

export interface FrameFigures {
  sent: number;
  valid: number;
  invalid: number;
  errorFrames: number;
  /** Refused by the schema, yet no error frame came back. */
  silent: string[];
  /** Accepted by the schema, yet answered bad_frame / unknown_frame_type. */
  refusedValid: string[];
  /** Frames whose answer did not parse as a server frame. */
  badAnswers: string[];
  hangs: number;
  closes: Map<number, number>;
  unjudged: number;
}

/** What the fuzzer sends: mostly schema-shaped, about half of those broken in one place. */
export const frameText: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: valid(frameSchema).map(toJsonText) },
    { weight: 5, arbitrary: nearValid(frameSchema).map(toJsonText) },
    { weight: 1, arbitrary: hostileValue.map((v) => toJsonText({ type: v })) },
    { weight: 1, arbitrary: notAnObject },
  )
  // The exact heartbeat text is answered by the runtime, out of order with the room's answers.
  .map((t) => (t === PING_FRAME ? `${t} ` : t));

interface Judged {
  text: string;
  isValid: boolean;
  pongsLeft: number;
  answers: Record<string, unknown>[];
}

function judge(t: string): Judged {
  let json: unknown;
  let parsed = false;
  try {
    json = JSON.parse(t);
    parsed = true;
  } catch {
    // not JSON: must be refused
  }
  const isValid = parsed && parseFrame(json);
  const isPing = isValid && (json as { type: string }).type === "ping";
  return { text: t, isValid, pongsLeft: isPing ? 2 : 1, answers: [] };
}

const short = (t: string) => (t.length > 160 ? `${t.slice(0, 160)}… (${t.length} chars)` : t);

function openSocket(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: 10_000 });
    ws.once("error", reject);
    ws.once("message", () => {
      ws.off("error", reject);
      ws.on("error", () => {});
      resolve(ws); // the welcome
    });
  });
}

/** Sends `frames` in windows over one socket, reopening it when the room closes it. */
async function worker(url: string, token: string, frames: string[], window: number, f: FrameFigures) {
  let ws = await openSocket(url, token);
  for (let at = 0; at < frames.length; at += window) {
    const batch = frames.slice(at, at + window).map(judge);
    let current = 0;
    const outcome = await new Promise<"done" | "hang" | number>((resolve) => {
      const timer = setTimeout(() => resolve("hang"), 15_000);
      const onMessage = (data: WebSocket.RawData) => {
        const text = String(data);
        let frame: Record<string, unknown>;
        try {
          frame = JSON.parse(text) as Record<string, unknown>;
          if (typeof frame.type !== "string" || !SERVER_TYPES.has(frame.type)) throw new Error("unknown type");
          if (frame.type === "error" && (typeof frame.code !== "string" || typeof frame.message !== "string"))
            throw new Error("error frame without code/message");
        } catch {
          f.badAnswers.push(short(text));
          return;
        }
        const j = batch[current];
        if (!j) return; // a late broadcast after the window closed
        if (frame.type !== "pong") {
          j.answers.push(frame);
          return;
        }
        if (--j.pongsLeft === 0 && ++current === batch.length) {
          clearTimeout(timer);
          resolve("done");
        }
      };
      ws.on("message", onMessage);
      ws.once("close", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      for (const j of batch) {
        ws.send(j.text);
        ws.send(PROBE);
      }
    });
    ws.removeAllListeners("message");
    ws.removeAllListeners("close");
    f.sent += batch.length;
    batch.slice(0, current).forEach((j) => {
      const errors = j.answers.filter((a) => a.type === "error");
      f.errorFrames += errors.length;
      if (j.isValid) {
        f.valid++;
        if (errors.some((e) => e.code === "bad_frame" || e.code === "unknown_frame_type"))
          f.refusedValid.push(short(j.text));
      } else {
        f.invalid++;
        if (!errors.length) f.silent.push(short(j.text));
      }
    });
    f.unjudged += batch.length - current;
    if (outcome !== "done") {
      if (outcome === "hang") f.hangs++;
      else f.closes.set(outcome, (f.closes.get(outcome) ?? 0) + 1);
      ws.terminate();
      ws = await openSocket(url, token);
    }
  }
  ws.close();
}

export async function fuzzFrames(o: {
  wsUrl: string;
  token: string;
  count: number;
  sockets: number;
  seed: number;
  log: (line: string) => void;
}): Promise<FrameFigures> {
  const f: FrameFigures = {
    sent: 0,
    valid: 0,
    invalid: 0,
    errorFrames: 0,
    silent: [],
    refusedValid: [],
    badAnswers: [],
    hangs: 0,
    closes: new Map(),
    unjudged: 0,
  };
  const chunk = 2000;
  const progress = setInterval(() => o.log(`frames: ${f.sent}/${o.count} sent`), 15_000);
  try {
    for (let done = 0, round = 0; done < o.count; done += chunk, round++) {
      const n = Math.min(chunk, o.count - done);
      const texts = fc.sample(frameText, { numRuns: n, seed: o.seed + round });
      const shares = Array.from({ length: o.sockets }, (_, s) => texts.filter((_, i) => i % o.sockets === s));
      await Promise.all(shares.map((share) => worker(o.wsUrl, o.token, share, 25, f)));
    }
  } finally {
    clearInterval(progress);
  }
  return f;
}
