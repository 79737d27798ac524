/**
 * The sentences of untrusted content, for judging a document by its parts. An instruction
 * slipped into an e-mail or a table is a sentence that reads as an attack on its own; a clean
 * table or e-mail has no such sentence, however much the whole of it looks like the documents
 * attacks are hidden in. Each line and each sentence is a segment, and so is each pair of
 * neighbours, so an attack split over two lines (a greeting, then the order) is still read whole.
 */

/** No document is cut into more segments than this: a huge file is judged by its first ones. */
export const MAX_SEGMENTS = 512;

/** Splits at line breaks and after a sentence's closing `.`, `!` or `?`. */
function sentences(text: string): string[] {
  return text.split(/\n+|(?<=[.!?])\s+/).map((s) => s.trim()).filter((s) => /\p{L}/u.test(s));
}

/**
 * The segments of `text`: its sentences and lines, then each pair of neighbours. A text with no
 * letters at all is its own one segment.
 *
 * @example
 * ```ts
 * import { sentenceSegments } from "./segments.ts";
 * console.log(sentenceSegments("Hi Ann.\nSee you at 5. Bring the slides."));
 * // [ "Hi Ann.", "See you at 5.", "Bring the slides.",
 * //   "Hi Ann. See you at 5.", "See you at 5. Bring the slides." ]
 * ```
 */
export function sentenceSegments(text: string): string[] {
  const parts = sentences(text);
  if (!parts.length) return [text];
  const pairs = parts.slice(1).map((part, i) => `${parts[i]} ${part}`);
  return [...parts, ...pairs].slice(0, MAX_SEGMENTS);
}
