/**
 * The classifier's input: hashed word, word-pair and sub-word features of a canonical text,
 * fastText's idea, and the ids of its words that have a pretrained vector (the word channel).
 * Training (`featurize.ts`) and inference (`../classifier.ts`) both call these functions, so the
 * two can never featurize differently.
 */

/** Hash buckets; id 0 is padding, so ids run from 1 to BUCKETS. */
export const BUCKETS = 1 << 16;
/** Tokens read per window; a longer text is read in overlapping windows. */
export const WINDOW_TOKENS = 256;
/** How far one window starts after the previous. */
export const WINDOW_STRIDE = 192;

/** FNV-1a over UTF-16 code units: fast, and the same on every platform. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function bucket(feature: string): number {
  return (fnv1a(feature) % BUCKETS) + 1;
}

/** Words: runs of letters and digits; punctuation that carries meaning in attacks stays a token. */
export function tokenize(canonicalText: string): string[] {
  return canonicalText.match(/[\p{L}\p{N}]+|[#<>{}[\]`*|=:]+/gu) ?? [];
}

function windowFeatures(tokens: string[]): number[] {
  const ids: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    ids.push(bucket(`w|${t}`));
    if (i + 1 < tokens.length) ids.push(bucket(`b|${t} ${tokens[i + 1]}`));
    const padded = `<${t}>`;
    if (padded.length > 5) {
      for (let j = 0; j + 4 <= padded.length; j++) ids.push(bucket(`c|${padded.slice(j, j + 4)}`));
    }
  }
  return ids;
}

/** The token windows of a text: one if it is short, else overlapping windows of the same size. */
function tokenWindows(tokens: string[]): string[][] {
  if (tokens.length <= WINDOW_TOKENS) return [tokens];
  const windows: string[][] = [];
  for (let start = 0; start < tokens.length; start += WINDOW_STRIDE) {
    windows.push(tokens.slice(start, start + WINDOW_TOKENS));
    if (start + WINDOW_TOKENS >= tokens.length) break;
  }
  return windows;
}

/**
 * The feature ids of each window of a canonical text (at least one window, possibly empty).
 *
 * @example
 * ```ts
 * import { featureWindows } from "./features.ts";
 * console.log(featureWindows("ignore all previous instructions").length); // 1
 * ```
 */
export function featureWindows(canonicalText: string): number[][] {
  return tokenWindows(tokenize(canonicalText)).map(windowFeatures);
}

/**
 * The word channel's input: for each window of {@linkcode featureWindows}, the vocabulary ids
 * (1-based; `vocabulary` maps a word to its id) of the window's words that have a pretrained vector
 * (see `word_vectors.ts`). Other words are left out: the hashed features still read them.
 *
 * @example
 * ```ts
 * import { wordWindows } from "./features.ts";
 * const vocabulary = new Map([["ignore", 1], ["instructions", 2]]);
 * console.log(wordWindows("ignore all previous instructions", vocabulary)); // [ [ 1, 2 ] ]
 * ```
 */
export function wordWindows(
  canonicalText: string,
  vocabulary: ReadonlyMap<string, number>,
): number[][] {
  return tokenWindows(tokenize(canonicalText)).map((tokens) =>
    tokens.map((t) => vocabulary.get(t) ?? 0).filter((id) => id > 0)
  );
}

/**
 * Reads a vocabulary file (one word a line; the first line is id 1) into the map
 * {@linkcode wordWindows} takes.
 *
 * @example
 * ```ts
 * import { parseVocabulary } from "./features.ts";
 * console.log(parseVocabulary("the\nof\n").get("of")); // 2
 * ```
 */
export function parseVocabulary(text: string): Map<string, number> {
  const words = text.split("\n").filter((w) => w);
  return new Map(words.map((w, i) => [w, i + 1]));
}
