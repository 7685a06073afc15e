/**
 * The deployment's blocklist as a pure matcher, shared by the worker (display names) and the room (message
 * bodies). Rules are words (matched whole, as a phrase when they hold several) or patterns (JavaScript
 * regular expressions checked for bounded cost when saved). Matching is case- and accent-insensitive: the
 * text is compared in a normalised form (NFKD, combining marks and invisible format characters dropped,
 * lower-cased) and words also with common look-alikes folded (0→o, 1 and l→i, 3→e, 4 and @→a, 5 and $→s,
 * 7→t), so "Bäd", "BAD" and "b4d" are all "bad". Masking stars out the matched span of the ORIGINAL text,
 * one `*` per code point.
 *
 * Cost (docs/decisions.md, "Content rules"): word rules are one hash lookup per word of the text, whatever
 * their number; each pattern is one regular-expression scan whose backtracking is bounded at save time
 * (`patternProblem`): no back-references, no repeated group holding a repetition or alternatives, every
 * repetition with an upper bound, and at most MAX_PATTERN_WORK ways to try each start position.
 */

export type ContentRuleKind = "word" | "pattern";
export type ContentRuleAction = "reject" | "mask";

export interface ContentRule {
  id: string;
  kind: ContentRuleKind;
  value: string;
  action: ContentRuleAction;
}

export type ContentVerdict =
  | { action: "allow" }
  | { action: "reject"; rule: ContentRule }
  | { action: "mask"; text: string; rules: ContentRule[] };

/** How many rules a deployment may hold, and how many of them patterns (each costs a scan per message). */
export const MAX_RULES = 500;
export const MAX_PATTERN_RULES = 20;
export const MAX_PATTERN_CHARS = 200;
export const MAX_WORD_CHARS = 100;
export const MAX_WORDS_PER_RULE = 10;
/**
 * The most ways a pattern may try to match from one position: the product of its repetitions' ranges
 * (`{1,50}` counts 50, `?` 2) and of its groups' alternatives. Worst case per message ≈ text length × this
 * (bench/content-rules.ts measures it).
 */
export const MAX_PATTERN_WORK = 32;

// ---------------------------------------------------------------------------------------------------------
// Normalisation

/** Look-alikes folded for word rules; each maps one character to one, so positions line up. */
const FOLD: Record<string, string> = {
  "0": "o",
  "1": "i",
  l: "i",
  "3": "e",
  "4": "a",
  "@": "a",
  "5": "s",
  $: "s",
  "7": "t",
};

const FOLDABLE = /[0134@57l$]/g;
const DROPPED = /[\p{M}\p{Cf}]/gu;
// ASCII spelled out first: the same set, and irregexp's fast path for the common case.
const WORD_RUN = /[a-z0-9\p{L}\p{N}]+/gu;
const NON_ASCII = /[^\x20-\x7e\t\n\r]/;
const CACHE_LIMIT = 20_000;
const lightCache = new Map<string, string>();

/**
 * One code point, decomposed, lower-cased, without marks or format characters (may be "" or several). Final
 * sigma is plain sigma: lower-casing a whole string turns "Σ" at a word's end into "ς", one code point alone
 * into "σ", and both forms must agree.
 */
function lightOf(cp: string): string {
  const hit = lightCache.get(cp);
  if (hit !== undefined) return hit;
  const out = cp.normalize("NFKD").toLowerCase().normalize("NFKD").replace(DROPPED, "").replaceAll("ς", "σ");
  if (lightCache.size >= CACHE_LIMIT) lightCache.clear();
  lightCache.set(cp, out);
  return out;
}

/**
 * The whole text at once, with the runtime's native string functions: what the rules are checked against.
 * Equal, character for character, to `normalise(text).light` (the unit tests hold it to that), which is
 * only built when a rule masks and its span must be found in the original.
 */
export function lightText(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  return text.normalize("NFKD").toLowerCase().normalize("NFKD").replace(DROPPED, "").replaceAll("ς", "σ");
}

/** Look-alikes folded; one character for one, so positions in `light` and `folded` are the same. */
export function foldText(light: string): string {
  return light.replace(FOLDABLE, (ch) => FOLD[ch] as string);
}

export interface Normalised {
  /** Lower-cased, decomposed, marks dropped: what patterns run on. */
  light: string;
  /** `light` with look-alikes folded (same length): what words are compared in. */
  folded: string;
  /** For each UTF-16 unit of `light`: where the code point it came from starts and ends in the original. */
  from: Int32Array;
  to: Int32Array;
}

/** `lightText` code point by code point, keeping where each character of the result came from. */
export function normalise(text: string): Normalised {
  let from = new Int32Array(text.length + 16);
  let to = new Int32Array(text.length + 16);
  let n = 0;
  const reserve = (more: number) => {
    if (n + more <= from.length) return;
    const size = Math.max(from.length * 2, n + more);
    const grownFrom = new Int32Array(size);
    const grownTo = new Int32Array(size);
    grownFrom.set(from);
    grownTo.set(to);
    from = grownFrom;
    to = grownTo;
  };
  const parts: string[] = [];
  for (let i = 0; i < text.length; ) {
    // ASCII runs in one go: most text, and lower-casing ASCII keeps every position.
    let j = i;
    while (j < text.length && text.charCodeAt(j) < 128) j++;
    if (j > i) {
      parts.push(text.slice(i, j).toLowerCase());
      reserve(j - i);
      for (let k = i; k < j; k++, n++) {
        from[n] = k;
        to[n] = k + 1;
      }
      i = j;
      continue;
    }
    const cp = String.fromCodePoint(text.codePointAt(i) as number);
    const out = lightOf(cp);
    reserve(out.length);
    for (let k = 0; k < out.length; k++, n++) {
      from[n] = i;
      to[n] = i + cp.length;
    }
    parts.push(out);
    i += cp.length;
  }
  const light = parts.join("");
  return { light, folded: foldText(light), from: from.subarray(0, n), to: to.subarray(0, n) };
}

interface Token {
  start: number;
  end: number;
  text: string;
}

/** Runs of letters and digits in the folded text; everything else separates words. */
function tokens(folded: string): Token[] {
  const out: Token[] = [];
  WORD_RUN.lastIndex = 0;
  for (let m = WORD_RUN.exec(folded); m !== null; m = WORD_RUN.exec(folded)) {
    out.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
  }
  return out;
}

/** The words a word rule stands for, as they are compared. */
export function wordsOf(value: string): string[] {
  return tokens(foldText(lightText(value))).map((t) => t.text);
}

// ---------------------------------------------------------------------------------------------------------
// Validation (when a rule is saved)

/** Why `value` cannot be a rule of `kind`, or null when it can. */
export function ruleProblem(kind: ContentRuleKind, value: string): string | null {
  if (kind === "pattern") {
    if (value.length > MAX_PATTERN_CHARS) return `longer than ${MAX_PATTERN_CHARS} characters`;
    return patternProblem(patternSource(value));
  }
  if (value.length > MAX_WORD_CHARS) return `longer than ${MAX_WORD_CHARS} characters`;
  const words = wordsOf(value);
  if (words.length === 0) return "has no letters or digits to match";
  if (words.length > MAX_WORDS_PER_RULE) return `more than ${MAX_WORDS_PER_RULE} words`;
  return null;
}

/**
 * A pattern as it is compiled: its literal characters lower-cased (escapes such as `\W` or `\p{Lu}` kept as
 * written), decomposed, marks and format characters dropped, as the text it runs on is, so "Café" matches
 * "CAFÉ" and "cafe". Lower-casing the source instead of the `i` flag: `/\bcafe\b/giu` scanned 4,000
 * characters in 38 µs, `/\bcafe\b/gu` in 0.7 µs (irregexp gives up its literal search under `iu`).
 */
export function patternSource(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; ) {
    if (value[i] === "\\") {
      const end = Math.max(i + 1, Math.min(skipEscape(value, i), value.length - 1));
      out += value.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    const cp = String.fromCodePoint(value.codePointAt(i) as number);
    out += lightOf(cp);
    i += cp.length;
  }
  return out;
}

/** Texts a saved pattern must not match with an empty match (it would reject or mask nothing visible, or all). */
const EMPTY_PROBES = ["", "a", " ", "a b", "0"];

/**
 * Why `source` cannot be a pattern rule, or null. Irregexp backtracks: `a+a+b` took 22 s over 4,000 "a"s
 * and even `a+b` 16 ms (measured, docs/decisions.md), so repetitions must be bounded and the work per start
 * position is capped, besides the classic exponential shapes (nested repetition, repeated alternatives,
 * back-references).
 */
export function patternProblem(source: string): string | null {
  if (source.length === 0) return "is empty";
  if (source.length > MAX_PATTERN_CHARS) return `longer than ${MAX_PATTERN_CHARS} characters`;
  let compiled: RegExp;
  try {
    compiled = new RegExp(source, "u");
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`;
  }
  const shape = scanPattern(source);
  if (shape) return shape;
  for (const probe of EMPTY_PROBES) {
    const m = new RegExp(compiled.source, "gu");
    for (const hit of probe.matchAll(m)) if (hit[0] === "") return "can match empty text";
  }
  return null;
}

interface Group {
  /** Contains a repetition (max > 1) or alternatives: repeating the group again would nest them. */
  branches: boolean;
}

type Last = { kind: "none" } | { kind: "atom" } | { kind: "group"; group: Group } | { kind: "assertion" };

/** The structural checks of patternProblem, on a source that already compiles with the `u` flag. */
function scanPattern(s: string): string | null {
  const stack: Group[] = [{ branches: false }];
  let last: Last = { kind: "none" };
  let work = 1;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const top = stack[stack.length - 1] as Group;
    if (ch === "\\") {
      const next = s[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") return "uses a back-reference (\\1, \\k<name>)";
      i = skipEscape(s, i);
      last = next === "b" || next === "B" ? { kind: "assertion" } : { kind: "atom" };
      continue;
    }
    if (ch === "[") {
      i = skipClass(s, i);
      last = { kind: "atom" };
      continue;
    }
    if (ch === "(") {
      stack.push({ branches: false });
      if (s[i + 1] === "?") {
        // (?: (?= (?! (?<= (?<! (?<name> and modifier groups: skip to where the group's body starts.
        if (s[i + 2] === "<" && s[i + 3] !== "=" && s[i + 3] !== "!") i = s.indexOf(">", i);
        else if (s[i + 2] === "<") i += 3;
        else if (s[i + 2] === ":" || s[i + 2] === "=" || s[i + 2] === "!") i += 2;
        else i = s.indexOf(":", i);
      }
      last = { kind: "none" };
      continue;
    }
    if (ch === ")") {
      const group = stack.pop() as Group;
      const parent = stack[stack.length - 1] as Group;
      if (group.branches) parent.branches = true;
      last = { kind: "group", group };
      continue;
    }
    if (ch === "|") {
      top.branches = true;
      last = { kind: "none" };
      continue;
    }
    const q = quantifier(s, i);
    if (q) {
      i = q.end;
      if (q.max === Number.POSITIVE_INFINITY) {
        return "repeats without an upper bound (*, + or {n,}); give one, e.g. {1,30}";
      }
      if (q.max > 1 && last.kind === "group" && last.group.branches) {
        return "repeats a group that itself repeats or has alternatives (catastrophic backtracking)";
      }
      if (q.max > 1) top.branches = true;
      work *= q.max - q.min + 1;
      if (work > MAX_PATTERN_WORK)
        return `could try over ${MAX_PATTERN_WORK} ways per position; narrow its repetitions`;
      last = { kind: "atom" };
      continue;
    }
    last = { kind: "atom" };
  }
  // Alternatives multiply the work too: count them per group (and at the top).
  const alternatives = countAlternatives(s);
  if (work * alternatives > MAX_PATTERN_WORK) {
    return `could try over ${MAX_PATTERN_WORK} ways per position; use fewer alternatives or repetitions`;
  }
  return null;
}

/** Index of the escape's last character. */
function skipEscape(s: string, i: number): number {
  const next = s[i + 1];
  if ((next === "u" || next === "p" || next === "P") && s[i + 2] === "{") {
    const close = s.indexOf("}", i);
    return close < 0 ? s.length - 1 : close;
  }
  if (next === "u") return i + 5;
  if (next === "x") return i + 3;
  if (next === "c") return i + 2;
  return i + 1;
}

/** Index of the class's closing bracket (the `u` flag has no nested classes). */
function skipClass(s: string, i: number): number {
  let j = i + 1;
  if (s[j] === "^") j++;
  for (; j < s.length; j++) {
    if (s[j] === "\\") j = skipEscape(s, j);
    else if (s[j] === "]") return j;
  }
  return s.length;
}

function quantifier(s: string, i: number): { min: number; max: number; end: number } | null {
  const ch = s[i];
  let q: { min: number; max: number; end: number } | null = null;
  if (ch === "*") q = { min: 0, max: Number.POSITIVE_INFINITY, end: i };
  else if (ch === "+") q = { min: 1, max: Number.POSITIVE_INFINITY, end: i };
  else if (ch === "?") q = { min: 0, max: 1, end: i };
  else if (ch === "{") {
    // With the `u` flag a brace can only be a quantifier, so the pattern compiled means this is one.
    const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
    if (!m) return null;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
    q = { min, max, end: i + m[0].length - 1 };
  }
  if (q && s[q.end + 1] === "?") q.end += 1;
  return q;
}

/** The product over groups (and the whole pattern) of their number of alternatives. */
function countAlternatives(s: string): number {
  const stack = [1];
  let product = 1;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "\\") i = skipEscape(s, i);
    else if (ch === "[") i = skipClass(s, i);
    else if (ch === "(") stack.push(1);
    else if (ch === "|") stack[stack.length - 1] = (stack[stack.length - 1] as number) + 1;
    else if (ch === ")") product *= stack.pop() as number;
  }
  return product * (stack[0] as number);
}

// ---------------------------------------------------------------------------------------------------------
// Matching

interface WordEntry {
  words: string[];
  rule: ContentRule;
}

export interface ContentMatcher {
  /** Word rules by their first word. */
  readonly words: ReadonlyMap<string, readonly WordEntry[]>;
  /** Pattern rules, the rejecting ones first. */
  readonly patterns: readonly { rule: ContentRule; regex: RegExp }[];
  /** Rules left out because they are not valid (saved before a rule change, or edited in the table). */
  readonly skipped: readonly ContentRule[];
  readonly size: number;
}

export function compileRules(rules: readonly ContentRule[]): ContentMatcher {
  const words = new Map<string, WordEntry[]>();
  const patterns: { rule: ContentRule; regex: RegExp }[] = [];
  const skipped: ContentRule[] = [];
  for (const rule of rules) {
    if (ruleProblem(rule.kind, rule.value) !== null) {
      skipped.push(rule);
      continue;
    }
    if (rule.kind === "word") {
      const list = wordsOf(rule.value);
      const first = list[0] as string;
      const entries = words.get(first) ?? [];
      entries.push({ words: list, rule });
      words.set(first, entries);
    } else {
      patterns.push({ rule, regex: new RegExp(patternSource(rule.value), "gu") });
    }
  }
  // Rejections first, so a text that is both rejected and masked is rejected without masking work.
  patterns.sort((a, b) => (a.rule.action === b.rule.action ? 0 : a.rule.action === "reject" ? -1 : 1));
  for (const entries of words.values()) {
    entries.sort((a, b) => (a.rule.action === b.rule.action ? 0 : a.rule.action === "reject" ? -1 : 1));
  }
  return { words, patterns, skipped, size: rules.length - skipped.length };
}

export const NO_RULES: ContentMatcher = compileRules([]);

let lastKey = "";
let lastMatcher = NO_RULES;

/**
 * compileRules, remembered for the last set of rules seen: compiling 500 rules (validation included) costs
 * milliseconds, and the rules change far less often than they are read.
 */
export function matcherFor(rules: readonly ContentRule[]): ContentMatcher {
  const key = rules.map((r) => `${r.id}\u0000${r.kind}\u0000${r.action}\u0000${r.value}`).join("\u0001");
  if (key !== lastKey) {
    lastMatcher = compileRules(rules);
    lastKey = key;
  }
  return lastMatcher;
}

/** What the rules say about `text`: allowed, rejected by a rule, or allowed with the matched spans starred. */
export function applyRules(matcher: ContentMatcher, text: string): ContentVerdict {
  if (matcher.size === 0 || text.length === 0) return { action: "allow" };
  const light = lightText(text);
  const found = scan(matcher, light);
  if (found.reject) return { action: "reject", rule: found.reject };
  if (found.spans.length === 0) return { action: "allow" };
  // A rule masks: only now is the way back to the original's positions worth building.
  const n = normalise(text);
  let spans = found.spans;
  // lightText and normalise agree by construction; should a runtime's Unicode data ever make them differ,
  // the spans are found again in normalise's own form rather than starring the wrong characters.
  if (n.light !== light) spans = scan(matcher, n.light).spans;
  const original = spans.map(([a, b]): [number, number] => [n.from[a] as number, n.to[b - 1] as number]);
  return { action: "mask", text: star(text, original), rules: [...found.masked] };
}

/** The first rejecting rule that matches, else every masking match as [start, end) in `light`. */
function scan(
  matcher: ContentMatcher,
  light: string,
): { reject: ContentRule | null; spans: [number, number][]; masked: Set<ContentRule> } {
  const spans: [number, number][] = [];
  const masked = new Set<ContentRule>();
  if (matcher.words.size > 0) {
    const toks = tokens(foldText(light));
    for (let i = 0; i < toks.length; i++) {
      const entries = matcher.words.get((toks[i] as Token).text);
      if (!entries) continue;
      for (const { words, rule } of entries) {
        if (i + words.length > toks.length) continue;
        let same = true;
        for (let k = 1; k < words.length && same; k++) same = (toks[i + k] as Token).text === words[k];
        if (!same) continue;
        if (rule.action === "reject") return { reject: rule, spans, masked };
        spans.push([(toks[i] as Token).start, (toks[i + words.length - 1] as Token).end]);
        masked.add(rule);
      }
    }
  }
  for (const { rule, regex } of matcher.patterns) {
    // exec in a loop: matchAll would clone the expression for every message.
    regex.lastIndex = 0;
    for (let m = regex.exec(light); m !== null; m = regex.exec(light)) {
      if (m[0] === "") {
        regex.lastIndex += 1;
        continue;
      }
      if (rule.action === "reject") return { reject: rule, spans, masked };
      spans.push([m.index, m.index + m[0].length]);
      masked.add(rule);
    }
  }
  return { reject: null, spans, masked };
}

/** `text` with every code point inside the spans (UTF-16 offsets, may overlap) replaced by `*`. */
function star(text: string, spans: [number, number][]): string {
  spans.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    out += text.slice(at, from);
    out += "*".repeat([...text.slice(from, end)].length);
    at = end;
  }
  return out + text.slice(at);
}
