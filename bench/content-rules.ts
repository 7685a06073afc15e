/**
 * `node bench/content-rules.ts`: what the content rules cost per message (src/lib/content-rules.ts). A
 * 4,000-character body (the longest a message may be) against 500 rules, and the worst case the save-time
 * checks admit. Prints µs per message, the median of several runs of many messages each.
 */
import {
  applyRules,
  type ContentRule,
  compileRules,
  MAX_PATTERN_RULES,
  MAX_RULES,
  normalise,
  ruleProblem,
} from "../src/lib/content-rules.ts";

const RUNS = 9;
const MESSAGES_PER_RUN = 200;

/** A deterministic stream of pseudo-random numbers, so every run measures the same texts. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const random = prng(26);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zu", "pe", "qua", "dré", "ño", "ße", "jö"];
const word = (min = 2, max = 4) =>
  Array.from({ length: min + Math.floor(random() * (max - min + 1)) }, () => pick(SYLLABLES)).join("");

/** Everyday chat text: words with accents, punctuation, numbers, a link, emoji, capitals, newlines. */
function body(length: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const r = random();
    const w =
      r < 0.05 ? "https://example.com/a/b?c=1" : r < 0.1 ? "🙂" : r < 0.15 ? `${Math.floor(random() * 1000)}` : word();
    const piece = `${random() < 0.1 ? w.toUpperCase() : w}${random() < 0.1 ? ", " : random() < 0.02 ? ".\n" : " "}`;
    parts.push(piece);
    size += piece.length;
  }
  return parts.join("").slice(0, length);
}

const PATTERN_SHAPES = [
  (w: string) => `${w}[0-9]{1,3}`,
  (w: string) => `\\b${w}\\b`,
  (w: string) => `(?:${w}|${word()})\\s{1,3}${word()}`,
  (w: string) => `https?://\\S{1,15}${w}`,
  (w: string) => `${w}\\W{0,2}${word()}`,
];

function rules(words: number, patterns: number, action: ContentRule["action"]): ContentRule[] {
  const out: ContentRule[] = [];
  for (let i = 0; i < words; i++) {
    const value = random() < 0.1 ? `${word()} ${word()}` : word(3, 5);
    out.push({ id: `w${i}`, kind: "word", value, action });
  }
  for (let i = 0; i < patterns; i++) {
    const value = pick(PATTERN_SHAPES)(word(3, 5));
    const problem = ruleProblem("pattern", value);
    if (problem) throw new Error(`bench pattern ${value} refused: ${problem}`);
    out.push({ id: `p${i}`, kind: "pattern", value, action });
  }
  return out;
}

/** The worst patterns the save-time checks admit, against text built to make them backtrack. */
function worstRules(): ContentRule[] {
  const shapes = ["a{1,16}a{0,1}b", "[a-z]{1,32}x", "a{1,4}a{1,4}a{1,2}b", "\\w{1,32}y", "(?:a|aa)a{1,16}z"];
  const patterns: ContentRule[] = Array.from({ length: MAX_PATTERN_RULES }, (_, i) => {
    const value = shapes[i % shapes.length] as string;
    const problem = ruleProblem("pattern", value);
    if (problem) throw new Error(`worst-case pattern ${value} refused: ${problem}`);
    return { id: `x${i}`, kind: "pattern", value, action: "mask" };
  });
  const words: ContentRule[] = Array.from({ length: MAX_RULES - MAX_PATTERN_RULES }, (_, i) => ({
    id: `y${i}`,
    kind: "word",
    value: `a${word()}`,
    action: "reject",
  }));
  return [...patterns, ...words];
}

function measure(label: string, run: (text: string) => unknown, texts: string[]): number {
  for (const t of texts.slice(0, 20)) run(t); // warm up the JIT and the caches
  const perMessage: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const started = performance.now();
    for (let i = 0; i < MESSAGES_PER_RUN; i++) run(texts[i % texts.length] as string);
    perMessage.push(((performance.now() - started) * 1000) / MESSAGES_PER_RUN);
  }
  perMessage.sort((a, b) => a - b);
  const median = perMessage[Math.floor(RUNS / 2)] as number;
  console.log(
    `${label.padEnd(58)} ${median.toFixed(1).padStart(9)} µs/message  (runs ${(perMessage[0] as number).toFixed(1)}–${(perMessage[RUNS - 1] as number).toFixed(1)})`,
  );
  return median;
}

const long = Array.from({ length: 50 }, () => body(4000));
const short = Array.from({ length: 200 }, () => body(80));
const mixed = compileRules(rules(MAX_RULES - MAX_PATTERN_RULES, MAX_PATTERN_RULES, "mask"));
const wordsOnly = compileRules(rules(MAX_RULES, 0, "mask"));
const patternsOnly = compileRules(rules(0, MAX_PATTERN_RULES, "mask"));
const worst = compileRules(worstRules());
const adversarial = ["a".repeat(4000), `${"a".repeat(3999)}!`];

console.log(`content rules: node ${process.version}, median of ${RUNS} runs × ${MESSAGES_PER_RUN} messages`);
measure("normalise only, 4,000 chars", (t) => normalise(t), long);
measure(`${MAX_RULES} words, 4,000 chars`, (t) => applyRules(wordsOnly, t), long);
measure(`${MAX_PATTERN_RULES} patterns, 4,000 chars`, (t) => applyRules(patternsOnly, t), long);
measure(
  `${MAX_RULES - MAX_PATTERN_RULES} words + ${MAX_PATTERN_RULES} patterns, 4,000 chars`,
  (t) => applyRules(mixed, t),
  long,
);
measure(
  `${MAX_RULES - MAX_PATTERN_RULES} words + ${MAX_PATTERN_RULES} patterns, 80 chars`,
  (t) => applyRules(mixed, t),
  short,
);
measure(
  `worst admitted: ${MAX_PATTERN_RULES} backtracking patterns, 4,000 × "a"`,
  (t) => applyRules(worst, t),
  adversarial,
);
const compileStarted = performance.now();
for (let i = 0; i < 20; i++) compileRules(rules(MAX_RULES - MAX_PATTERN_RULES, MAX_PATTERN_RULES, "mask"));
console.log(
  `${"compileRules, 500 rules (with validation)".padEnd(58)} ${(((performance.now() - compileStarted) * 1000) / 20).toFixed(1).padStart(9)} µs`,
);
