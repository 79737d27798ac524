/**
 * What of a text the injection detector flagged is tracked as `PromptInjection`: the passages
 * (sentences or lines) its evidence sits in, wherever they stand in the text, so that a tool call
 * that carries the injected instruction on (a worm re-posting itself) is caught. Tracking the
 * text's first 200 characters, as before, tracked a page's boilerplate and let the instruction
 * further down go.
 */
import type { InjectionVerdict } from "./injection/detector.ts";

/** A passage shorter than this is too common to track (a few words are anyone's). */
const MIN_PASSAGE = 20;
/** The most characters of one passage, on each side of the evidence. */
const PASSAGE_REACH = 400;
/** The most passages tracked for one text. */
const MAX_PASSAGES = 8;
/** A flagged text whose evidence cannot be placed is tracked whole up to this long. */
const WHOLE_TEXT_MAX = 2000;
/** How many words of an excerpt are enough to place it. */
const EXCERPT_WORDS = 8;

/** Where the words of `excerpt` stand in `text` (any case, any whitespace), or -1. */
function placeOf(text: string, excerpt: string): number {
  const words = excerpt.match(/[\p{L}\p{N}]+/gu)?.slice(0, EXCERPT_WORDS);
  if (!words?.length) return -1;
  // Between words, anything but letters and digits (the views collapse whitespace and fold
  // punctuation), and not far.
  const pattern = new RegExp(words.join("[^\\p{L}\\p{N}]{1,8}"), "iu");
  return pattern.exec(text)?.index ?? -1;
}

/** `at` moved off the low half of a surrogate pair, towards `step`. */
function whole(text: string, at: number, step: -1 | 1): number {
  const code = text.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at + (step < 0 ? -1 : 1) : at;
}

/** The sentence or line around `at`, at most `PASSAGE_REACH` characters on either side. */
function passageAround(text: string, at: number): string {
  let start = at;
  const floor = Math.max(0, at - PASSAGE_REACH);
  while (start > floor && !/[.!?\n]\s$|\n$/.test(text.slice(Math.max(0, start - 2), start))) {
    start--;
  }
  let end = at;
  const ceiling = Math.min(text.length, at + PASSAGE_REACH);
  while (end < ceiling && text[end] !== "\n" && !/[.!?]/.test(text[end])) end++;
  if (end < text.length && text[end] !== "\n") end++; // the sentence's own full stop
  return text.slice(whole(text, start, 1), whole(text, end, 1)).trim();
}

/**
 * The passages of `text` to track as injected instructions, given the detector's `verdict` on
 * it: the sentence or line around each piece of evidence the verdict quotes; when none can be
 * placed (the evidence is the learned classifier's, or in a decoded view), the text itself,
 * its first 2,000 characters when longer.
 *
 * @example
 * ```ts
 * import { injectedPassages } from "./taint_injection.ts";
 * const verdict = {
 *   injection: true, score: 0.9, categories: [], explanation: "",
 *   matches: [{ rule: "r", category: "instruction_override" as const, view: "plain", excerpt: "ignore all previous instructions" }],
 * };
 * console.log(injectedPassages("Release notes. Ignore all previous instructions. Thanks.", verdict));
 * // [ "Ignore all previous instructions." ]
 * ```
 */
export function injectedPassages(text: string, verdict: InjectionVerdict): string[] {
  const passages = new Set<string>();
  for (const match of verdict.matches) {
    if (passages.size >= MAX_PASSAGES) break;
    const at = placeOf(text, match.excerpt);
    if (at < 0) continue;
    let passage = passageAround(text, at);
    if (passage.length < MIN_PASSAGE) {
      // A short sentence ("Ignore them."): the line it is on says more.
      const lineStart = text.lastIndexOf("\n", at) + 1;
      const lineEnd = text.indexOf("\n", at);
      passage = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd).trim()
        .slice(0, 2 * PASSAGE_REACH).toWellFormed();
    }
    if (passage.length >= MIN_PASSAGE) passages.add(passage);
  }
  if (!passages.size) {
    const trimmed = text.trim();
    const head = trimmed.slice(0, whole(trimmed, WHOLE_TEXT_MAX, -1));
    if (head.length >= 6) passages.add(head);
  }
  return [...passages];
}
