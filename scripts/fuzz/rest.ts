/**
 * REST fuzzing: requests to every route (from targets.ts) with path ids real and fake, query strings and
 * JSON bodies built from the route's schemas (valid, broken in one place, or hostile), odd content
 * types and credentials. Every answer must be below 500, and a 4xx must carry the JSON error shape.
 */
import fc from "fast-check";
import { ERROR_CODES } from "../../src/protocol/errors.ts";
import { hostileValue, type JsonSchema, nearValid, notAnObject, toJsonText, valid } from "./arbitraries.ts";
import type { Target } from "./targets.ts";

export interface RestFigures {
  sent: number;
  byStatus: Map<number, number>;
  /** 5xx answers and requests the server dropped. */
  failures: string[];
  /** 4xx without { error: { code, message } } in JSON. */
  badErrors: string[];
  /** Set when the server stopped answering: the requests in flight or just answered before that. */
  died?: string[];
}

export interface Identities {
  /** Bearer tokens to choose from: a member, an admin. */
  tokens: string[];
  /** Real ids to put in paths, so requests get past "not found" to validation. */
  ids: string[];
  seqs: string[];
}

interface Req {
  target: Target;
  path: string;
  query: string;
  body?: string;
  contentType?: string;
  token?: string;
}

const CODES = new Set<string>(ERROR_CODES);

/**
 * encodeURIComponent, except that a lone surrogate (which it refuses) is sent as its WTF-8 bytes, as a
 * hostile client could: the server must cope with invalid UTF-8 in paths and queries.
 */
function pct(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((ch) => {
        const c = ch.charCodeAt(0);
        if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) {
          return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join("");
        }
        return encodeURIComponent(ch);
      })
      .join("");
  }
}

const segment = (ids: Identities) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids.ids, ...ids.seqs) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom("0", "-1", "1e3", "9007199254740993", "NaN", "%00", "..", "%2e%2e", "👍") },
    { weight: 1, arbitrary: hostileValue.map((v) => pct(typeof v === "string" ? v : toJsonText(v))) },
  );

function queryFrom(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  const asParams = (v: unknown) => {
    if (!v || typeof v !== "object" || Array.isArray(v)) return pct(toJsonText(v));
    return Object.entries(v)
      .map(([k, x]) => `${pct(k)}=${pct(typeof x === "string" ? x : toJsonText(x))}`)
      .join("&");
  };
  const raw = fc.constantFrom("", "%", "%00", "a=1&a=2", "limit=1&limit=2", "q", "=", "&&", "limit=%00", "q=%00");
  if (!schema) return fc.oneof({ weight: 3, arbitrary: fc.constant("") }, raw);
  return fc.oneof(valid(schema).map(asParams), nearValid(schema).map(asParams), raw);
}

function bodyFrom(t: Target): fc.Arbitrary<string | undefined> {
  if (t.method === "GET") return fc.constant(undefined);
  const generic = fc.oneof(fc.constant(undefined), notAnObject, fc.jsonValue({ maxDepth: 3 }).map(toJsonText));
  if (!t.body) return generic;
  return fc.oneof(
    { weight: 3, arbitrary: valid(t.body).map(toJsonText) },
    { weight: 4, arbitrary: nearValid(t.body).map(toJsonText) },
    { weight: 1, arbitrary: generic },
  );
}

/** Past a few KB of URL the platform answers (414/431) before the worker runs; that is not ours to test. */
const MAX_URL_CHARS = 4000;

function requestArb(targets: Target[], ids: Identities): fc.Arbitrary<Req> {
  return fc.constantFrom(...targets).chain((target) =>
    fc
      .record({
        target: fc.constant(target),
        path: fc
          .array(segment(ids), { minLength: target.params.length, maxLength: target.params.length })
          .map((values) => {
            let i = 0;
            return target.path.replace(/:(\w+)/g, () => values[i++] as string);
          }),
        query: queryFrom(target.query),
        body: bodyFrom(target),
        contentType: fc.oneof(
          { weight: 8, arbitrary: fc.constant("application/json") },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              undefined,
              "text/plain",
              "application/json; charset=utf-16",
              "multipart/form-data",
            ),
          },
        ),
        token: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom(...ids.tokens) },
          { weight: 1, arbitrary: fc.constantFrom(undefined, "garbage", "e30.e30.", `${ids.tokens[0]}x`) },
        ),
      })
      .filter((r) => r.path.length + r.query.length < MAX_URL_CHARS),
  );
}

async function one(baseUrl: string, r: Req, f: RestFigures & { recent: string[] }): Promise<void> {
  const url = `${baseUrl}${r.path}${r.query ? `?${r.query}` : ""}`;
  const headers: Record<string, string> = {};
  if (r.contentType && r.body !== undefined) headers["content-type"] = r.contentType;
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  const what = `${r.target.method} ${url.slice(baseUrl.length, 300)} ${r.body === undefined ? "" : r.body.slice(0, 200)}`;
  f.recent.push(what);
  if (f.recent.length > 8) f.recent.shift();
  let res: Response;
  try {
    res = await fetch(url, {
      method: r.target.method,
      headers,
      ...(r.body !== undefined ? { body: r.body } : {}),
      signal: AbortSignal.timeout(20_000),
    });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    f.failures.push(`${what} → ${(err as Error).message}${cause ? ` (${cause.message})` : ""}`);
    return;
  }
  f.sent++;
  f.byStatus.set(res.status, (f.byStatus.get(res.status) ?? 0) + 1);
  const text = await res.text().catch(() => "");
  // A path whose dot segments (%2e%2e) climb out of /api is no API request: the static-asset server
  // answers it (a non-JSON 405 for a DELETE), as it does any other page address.
  const api = /^\/(api|health|metrics|openapi\.json|docs)(\/|$)/.test(new URL(url).pathname);
  if (res.status >= 500) f.failures.push(`${what} → ${res.status} ${text.slice(0, 200)}`);
  else if (res.status >= 400 && api) {
    let ok = false;
    try {
      const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
      ok = typeof e?.code === "string" && CODES.has(e.code) && typeof e.message === "string";
    } catch {
      // not JSON
    }
    if (!ok || !/application\/json/.test(res.headers.get("content-type") ?? ""))
      f.badErrors.push(`${what} → ${res.status} ${text.slice(0, 200)}`);
  }
}

async function alive(baseUrl: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    const ok = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

export async function fuzzRest(o: {
  baseUrl: string;
  targets: Target[];
  ids: Identities;
  count: number;
  concurrency: number;
  seed: number;
  log: (line: string) => void;
}): Promise<RestFigures> {
  const f: RestFigures & { recent: string[] } = {
    sent: 0,
    byStatus: new Map(),
    failures: [],
    badErrors: [],
    recent: [],
  };
  const requests = fc.sample(requestArb(o.targets, o.ids), { numRuns: o.count, seed: o.seed });
  let next = 0;
  const progress = setInterval(() => o.log(`rest: ${f.sent}/${o.count} answered`), 15_000);
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < requests.length && !f.died) {
        const before = f.failures.length;
        const recent = [...f.recent];
        await one(o.baseUrl, requests[next++] as Req, f);
        // A dropped request may be the server gone: then the rest would only repeat "fetch failed".
        if (f.failures.length > before && !f.died && !(await alive(o.baseUrl))) f.died = recent;
      }
    }),
  );
  clearInterval(progress);
  const { recent: _recent, ...figures } = f;
  return figures;
}
