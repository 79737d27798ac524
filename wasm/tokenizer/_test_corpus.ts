/** Test inputs shared by the exactness tests: the fixture corpus and seeded random strings. */

/** The fixture corpus: prose, code, many scripts, emoji, marks, whitespace, special strings. */
export async function loadCorpus(): Promise<string[]> {
  const url = new URL("../testdata/tokenizer/corpus.json", import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}

/** A small deterministic PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Atoms chosen to hit every branch of the split patterns: letter cases (Lu Ll Lt Lm Lo), marks,
// digits of several scripts, each kind of whitespace, contractions, punctuation and emoji.
const ATOMS = [
  "a",
  "Z",
  "é",
  "Ω",
  "ж",
  "ǅ",
  "ʰ",
  "ー",
  "中",
  "ก",
  "\u0301",
  "\u0903",
  "\u20dd",
  "1",
  "٣",
  "⅔",
  "²",
  " ",
  "  ",
  "\t",
  "\n",
  "\r\n",
  "\r",
  "\u00a0",
  "\u0085",
  "\u2028",
  "\u3000",
  "\ufeff",
  "\u000b",
  "'",
  "'s",
  "'S",
  "'t",
  "'re",
  "'VE",
  "'m",
  "'ll",
  "'D",
  "'ſ",
  "ſ",
  ".",
  ",",
  "!?",
  "/",
  "//",
  "-",
  "_",
  "(",
  ")",
  '"',
  "@",
  "#",
  "$",
  "%",
  "😀",
  "👍🏽",
  "👨‍👩‍👧",
  "🇯🇵",
  "\u200d",
  "\ud800",
  "€",
  "™",
  "\u0000",
  "\u007f",
  "word",
  "Word",
  "WORD",
  "wOrD",
  "123",
  "4567",
  "hello world",
  "don't",
  "I'M",
  "<|endoftext|>",
  "<|im_start|>",
  "<bos>",
  "[CLS]",
  "<0x41>",
];

/** `count` random strings of up to `maxAtoms` atoms each. */
export function randomStrings(seed: number, count: number, maxAtoms: number): string[] {
  const random = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(random() * maxAtoms);
    let s = "";
    for (let j = 0; j < n; j++) s += ATOMS[Math.floor(random() * ATOMS.length)];
    out.push(s);
  }
  return out;
}

/** Ids as a plain array, for readable assertion diffs. */
export function list(ids: ArrayLike<number>): number[] {
  return Array.from(ids);
}
