/**
 * Snippets for the SQLite backend, built in TypeScript for the returned page only: FTS5's own
 * snippet() would need a second full-text pass (or run for every matching row), which cost
 * ten times the ranking itself on a 12,000-document corpus.
 */
import type { Clause } from "./query.ts";

/** Words of context in a snippet. */
const WINDOW = 32;
const WORD = /[\p{L}\p{N}_]+/gu;

/**
 * A rough English stem, enough to see that `runs` and `running` match the query `run` the way
 * the porter tokenizer did when it matched the document.
 */
function stem(word: string): string {
  const w = word.toLowerCase();
  for (const suffix of ["ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s"]) {
    if (w.length - suffix.length >= 3 && w.endsWith(suffix)) return w.slice(0, -suffix.length);
  }
  return w;
}

/** Predicates that say whether a document word matches some clause of the query. */
function matchers(clauses: readonly Clause[]): Array<(word: string) => boolean> {
  const out: Array<(word: string) => boolean> = [];
  for (const clause of clauses) {
    if (clause.kind === "prefix") {
      const prefix = clause.word.toLowerCase();
      out.push((w) => w.toLowerCase().startsWith(prefix));
    } else {
      const words = clause.kind === "term" ? [clause.word] : clause.words;
      for (const word of words) {
        const s = stem(word);
        out.push((w) => stem(w) === s || w.toLowerCase().startsWith(s));
      }
    }
  }
  return out;
}

/**
 * The window of `body` with the most distinct query words, matches wrapped in
 * `<mark>`…`</mark>`, with `…` where text was cut.
 *
 * @example
 * ```ts
 * import { highlight } from "./highlight.ts";
 * import { parseQuery } from "./query.ts";
 * highlight("The quick brown fox", parseQuery("fox")); // "The quick brown <mark>fox</mark>"
 * ```
 */
export function highlight(body: string, clauses: readonly Clause[]): string {
  const words = [...body.matchAll(WORD)];
  if (!words.length) return "";
  const tests = matchers(clauses);
  const hit = words.map((m) => tests.findIndex((test) => test(m[0])));
  let bestStart = 0;
  let bestScore = -1;
  for (let start = 0; start < words.length; start += Math.max(1, WINDOW / 4)) {
    const distinct = new Set<number>();
    let count = 0;
    for (let i = start; i < Math.min(words.length, start + WINDOW); i++) {
      if (hit[i] >= 0) {
        distinct.add(hit[i]);
        count++;
      }
    }
    const score = distinct.size * 100 + count;
    if (score > bestScore) {
      bestScore = score;
      bestStart = start;
    }
    if (start + WINDOW >= words.length) break;
  }
  // Start a little before the first match, so it has context.
  const firstHit = hit.findIndex((h, i) => i >= bestStart && h >= 0);
  const start = Math.max(0, Math.min(bestStart, firstHit >= 0 ? firstHit - 4 : bestStart));
  const end = Math.min(words.length, start + WINDOW);
  let text = "";
  let cursor = words[start].index!;
  for (let i = start; i < end; i++) {
    const match = words[i];
    text += body.slice(cursor, match.index!).replace(/\s+/g, " ");
    text += hit[i] >= 0 ? `<mark>${match[0]}</mark>` : match[0];
    cursor = match.index! + match[0].length;
  }
  return `${start > 0 ? "…" : ""}${text.trim()}${end < words.length ? "…" : ""}`;
}
