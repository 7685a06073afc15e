/**
 * fast-check arbitraries from JSON Schema (what z.toJSONSchema gives for the project's zod schemas), so
 * the fuzzers follow the schemas as they change: `valid` builds values the schema describes; `nearValid`
 * breaks one thing about such a value; `hostile` is what no schema expects (prototype keys, objects
 * whose toString is not a function, huge and non-finite numbers, deep nesting, odd unicode, NUL).
 */
import fc from "fast-check";

export type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

const FORMATS: Record<string, fc.Arbitrary<string>> = {
  uuid: fc.uuid(),
  email: fc.emailAddress(),
  uri: fc.webUrl(),
  url: fc.webUrl(),
  "date-time": fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
};

function stringArb(s: JsonSchema): fc.Arbitrary<string> {
  const format = s.format ? FORMATS[s.format] : undefined;
  if (format) return format;
  const max = s.maxLength ?? 64;
  const base = s.pattern
    ? fc.stringMatching(new RegExp(s.pattern))
    : fc.string({ minLength: Math.min(s.minLength ?? 0, max), maxLength: Math.min(max, 200), unit: "grapheme" });
  return base.map((v) => v.slice(0, max));
}

function numberArb(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (integer ? 1 : 1e-9) : -1e9);
  const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - (integer ? 1 : 1e-9) : 1e9);
  // Small values matter most (they name real seqs and pages); the bounds themselves too.
  const small = fc.integer({ min: Math.max(min, -5), max: Math.max(Math.min(max, 20), Math.max(min, -5)) });
  const edge = fc.constantFrom(min, max);
  return integer
    ? fc.oneof(small, edge, fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) }))
    : fc.oneof(small, edge, fc.double({ min, max, noNaN: true }));
}

export function valid(s: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return fc.oneof(...alts.map((a) => valid(a, depth)));
  if (s.allOf?.[0]) return valid(s.allOf[0], depth);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "string":
      return stringArb(s);
    case "integer":
      return numberArb(s, true);
    case "number":
      return numberArb(s, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(s.items ? valid(s.items, depth + 1) : fc.jsonValue(), {
        minLength: s.minItems ?? 0,
        maxLength: Math.min(s.maxItems ?? 5, 12),
      });
    case "object": {
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const entries = Object.entries(props).map(([k, v]) => [k, valid(v, depth + 1)] as const);
      return fc.record(Object.fromEntries(entries), {
        requiredKeys: Object.keys(props).filter((k) => required.has(k)),
      });
    }
    default:
      return depth > 3 ? fc.constant(null) : fc.jsonValue({ maxDepth: 2 });
  }
}

/** Sets a key the way JSON.parse would: `__proto__` becomes an own key, not the prototype. */
function withKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...obj };
  Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
  return out;
}

const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "then"];

/** A value no field expects, as a JSON-serialisable thing or raw JSON text (marked by `raw`). */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    { toString: 1 },
    { toString: null },
    { valueOf: null },
    { toString: null, valueOf: null },
    { toJSON: 1 },
    // biome-ignore lint/suspicious/noThenProperty: a thenable is one of the values handlers must survive
    { then: 1 },
    [],
    {},
    null,
    true,
    0,
    -0,
    -1,
    1.5,
    2 ** 53 + 2,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\udfff\ud800",
    "\u202e\u2066",
    "\ufeff",
    "👍🏽‍",
    "%00",
    "'; drop table messages; --",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: template-injection probe, meant literally
    "${7*7}",
    "../../etc/passwd",
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", minLength: 4000, maxLength: 4100 }),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => ({ raw: n.toString() })),
  fc.constantFrom("1e400", "-1e400", "1e-400", "123456789012345678901234567890", "-0.0e0").map((raw) => ({ raw })),
  fc.integer({ min: 100, max: 20_000 }).map((n) => ({ raw: `${"[".repeat(n)}${"]".repeat(n)}` })),
  fc.integer({ min: 100, max: 5_000 }).map((n) => ({ raw: `${'{"a":'.repeat(n)}1${"}".repeat(n)}` })),
  fc.jsonValue({ maxDepth: 4 }),
);

/** One thing wrong with a valid value: a key gone, a key added, or a field of the wrong kind. */
export function nearValid(s: JsonSchema): fc.Arbitrary<unknown> {
  return valid(s).chain((v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return fc.oneof(hostileValue, fc.constant(v));
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj);
    const options: fc.Arbitrary<unknown>[] = [
      fc.tuple(fc.constantFrom(...PROTO_KEYS, "extra", "type "), hostileValue).map(([k, x]) => withKey(obj, k, x)),
    ];
    if (keys.length) {
      options.push(
        fc.constantFrom(...keys).map((k) => {
          const { [k]: _gone, ...rest } = obj;
          return rest;
        }),
        fc.tuple(fc.constantFrom(...keys), hostileValue).map(([k, x]) => withKey(obj, k, x)),
      );
    }
    return fc.oneof(...options);
  });
}

/** JSON text for a value, with `{raw}` pieces (numbers JSON cannot express, deep nesting) spliced in. */
export function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "raw" in v) {
      raws.push(String((v as { raw: unknown }).raw));
      return `\u0001raw${raws.length - 1}\u0001`;
    }
    return v;
  });
  return (text ?? "null").replace(/"\\u0001raw(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)] as string);
}

/** Whole texts that are not a JSON object at all. */
export const notAnObject: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", " ", "null", "[]", "0", '"ping"', "{", '{"type":', '{"type":"ping"', "}{", "\u0000", "NaN"),
  fc.string({ unit: "binary", maxLength: 200 }),
  hostileValue.map(toJsonText),
);
