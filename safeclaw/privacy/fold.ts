/**
 * A folded view of a text for detection: characters that could hide a value from the scanner
 * (fullwidth, mathematical and Arabic-Indic digits, fullwidth and mathematical letters,
 * zero-width characters, look-alike dots and at signs) replaced by their ASCII forms, with a map
 * back to the original offsets.
 */

/**
 * Every character folding changes: the no-break, fixed-width and ideographic spaces (read as a
 * space: web pages, PDFs and French number formatting group digits with them), invisible
 * characters (every default-ignorable code point: soft hyphen, the combining grapheme joiner, the
 * Arabic letter mark, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors and
 * U+180E, zero-width space, joiners, marks, word joiner and invisible operators, variation
 * selectors, BOM, shorthand format controls, musical formatting and tag characters), the
 * Arabic-Indic and Extended
 * Arabic-Indic digits (Arabic, Persian and Urdu text writes numbers in them), hyphens U+2010 and
 * U+2011, the one dot leader, the small full stop, small hyphen-minus and small at, the
 * ideographic full stops, the fullwidth ASCII block and the mathematical alphanumeric symbols
 * (U+1D400 to U+1D7FF, the surrogate pairs starting U+D835). No `u` flag, so the test stays a
 * plain scan over code units.
 */
const FOLDABLE =
  /[\u00A0\u00AD\u034F\u061C\u0660-\u0669\u06F0-\u06F9\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2002-\u200F\u2010\u2011\u2024\u202F\u202A-\u202E\u2060-\u206F\u3000\u3002\u3164\uFE00-\uFE0F\uFE52\uFE63\uFE6B\uFEFF\uFF01-\uFF5E\uFF61\uFFA0\uFFF0-\uFFF8]|\uD835[\uDC00-\uDFFF]|\uDB40[\uDC00-\uDFFF]|\uD82F[\uDCA0-\uDCA3]|\uD834[\uDD73-\uDD7A]/;
const FOLDABLE_ALL = new RegExp(FOLDABLE.source, "g");
// The same as one character class (the high surrogate U+D835 begins exactly the mathematical
// symbols), which the engine scans for much faster than an alternation: the test every text takes.
const MAY_FOLD =
  /[\u00A0\u00AD\u034F\u061C\u0660-\u0669\u06F0-\u06F9\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2002-\u200F\u2010\u2011\u2024\u202F\u202A-\u202E\u2060-\u206F\u3000\u3002\u3164\uD82F\uD834\uD835\uDB40\uFE00-\uFE0F\uFE52\uFE63\uFE6B\uFEFF\uFF01-\uFF5E\uFF61\uFFA0\uFFF0-\uFFF8]/;

/**
 * Dropped from the folded view: every default-ignorable and format character (only those
 * {@linkcode FOLDABLE} matches are ever tested, one character at a time, cached).
 */
const INVISIBLE = /^[\p{Default_Ignorable_Code_Point}\p{Cf}]$/u;

/** The Arabic-Indic (U+0660) and Extended Arabic-Indic (U+06F0) digits: NFKC keeps them. */
const ARABIC_INDIC_DIGIT = /^[\u0660-\u0669\u06F0-\u06F9]$/;

/** Look-alikes NFKC leaves alone (or maps to another non-ASCII character). */
const PUNCTUATION: Readonly<Record<string, string>> = {
  "\u2010": "-",
  "\u2011": "-",
  "\u3002": ".",
  "\uFF61": ".",
};

/** A folded text and the way back to the original. */
export interface FoldedText {
  /** The text with look-alikes replaced by ASCII and invisible characters dropped. */
  folded: string;
  /** The original offset of the character that produced folded code unit `i`. */
  originalStart(i: number): number;
  /** The original offset just past the character that produced folded code unit `i - 1`. */
  originalEnd(i: number): number;
}

const foldedChars = new Map<string, string>();

function foldChar(ch: string): string {
  let out = foldedChars.get(ch);
  if (out === undefined) {
    out = INVISIBLE.test(ch)
      ? ""
      : ARABIC_INDIC_DIGIT.test(ch)
      ? String.fromCharCode(0x30 + (ch.charCodeAt(0) & 0xf))
      : PUNCTUATION[ch] ?? ch.normalize("NFKC");
    foldedChars.set(ch, out); // bounded: FOLDABLE matches about 1,200 characters
  }
  return out;
}

/**
 * Folds `text` for detection, or returns `undefined` when it holds nothing to fold (then the
 * text itself is the folded view).
 *
 * @example
 * ```ts
 * import { foldForDetection } from "./fold.ts";
 * const view = foldForDetection("card ４１１１\u200b1111")!;
 * console.log(view.folded); // "card 41111111"
 * console.log(view.originalEnd(view.folded.length)); // 14
 * ```
 */
export function foldForDetection(text: string): FoldedText | undefined {
  if (!FOLDABLE.test(text)) return undefined;
  // The folded text in segments: a plain stretch copied as it is (each code unit maps to its own)
  // or what one folded character became (each code unit maps to the whole character).
  const segments: { at: number; from: number; to: number; plain: boolean }[] = [];
  let length = 0; // of the folded text so far
  let last = 0; // the original offset after the last folded character
  // Adds [from, to) of the text, at the end of the folded text, as mapping unit to unit. A
  // character folded to one unit from one (an Arabic-Indic or a fullwidth digit) maps so too,
  // and joins the plain stretch before it: a text written in such digits is a few segments, not
  // one a character.
  const addPlain = (from: number, to: number) => {
    const previous = segments.at(-1);
    if (previous?.plain && previous.to === from) previous.to = to;
    else segments.push({ at: length, from, to, plain: true });
    length += to - from;
  };
  const folded = text.replace(FOLDABLE_ALL, (ch: string, index: number) => {
    if (index > last) addPlain(last, index);
    last = index + ch.length;
    const out = foldChar(ch);
    if (out.length === 1 && ch.length === 1) addPlain(index, last);
    else {
      if (out.length) segments.push({ at: length, from: index, to: last, plain: false });
      length += out.length;
    }
    return out;
  });
  if (text.length > last) addPlain(last, text.length);
  // The original span of the character behind folded code unit `i` (0 <= i < folded.length).
  const origin = (i: number): [number, number] => {
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid].at <= i) lo = mid;
      else hi = mid - 1;
    }
    const { at, from, to, plain } = segments[lo];
    return plain ? [from + i - at, from + i - at + 1] : [from, to];
  };
  return {
    folded,
    originalStart: (i) => i < folded.length ? origin(i)[0] : text.length,
    originalEnd: (i) => i > 0 ? origin(i - 1)[1] : 0,
  };
}

/** One stretch of a text around its foldable characters, folded. */
export interface FoldedWindow {
  /** Where the stretch starts in the text. */
  offset: number;
  /** The stretch folded; its offsets map back into the stretch (add `offset`). */
  view: FoldedText;
}

/** Characters of context kept on each side of a foldable one: more than any value spans. */
export const FOLD_CONTEXT = 320;

/**
 * The stretches of `text` that hold foldable characters, each with `context` characters on either
 * side (widened to the next whitespace, so no word is cut), folded; overlapping stretches are one.
 * A large log with a stray zero-width space is read again around it, not whole.
 *
 * @example
 * ```ts
 * import { foldedWindows } from "./fold.ts";
 * const [window] = foldedWindows("word ".repeat(200) + "card ４１１１ end", 20);
 * console.log(window.offset, window.view.folded); // 985 "word word word card 4111 end"
 * ```
 */
export function foldedWindows(text: string, context = FOLD_CONTEXT): FoldedWindow[] {
  const stretches: [number, number][] = [];
  // The last stretch's end before it is widened. Widening keeps order, and the ends come in
  // order, so a stretch is widened once, when it closes: a character within `context` of the
  // last one only moves this end on. A text dense with foldable characters (a megabyte of
  // Arabic-Indic digits) is one stretch, not a widening each character.
  let rawEnd = -1;
  for (const match of text.matchAll(FOLDABLE_ALL)) {
    const rawStart = match.index - context;
    const end = match.index + match[0].length + context;
    const last = stretches.at(-1);
    if (last && rawStart <= rawEnd) {
      rawEnd = end;
      continue;
    }
    const start = widen(text, rawStart, -1);
    if (last) {
      last[1] = widen(text, rawEnd, 1);
      if (start <= last[1]) {
        rawEnd = end;
        continue;
      }
    }
    stretches.push([start, end]);
    rawEnd = end;
  }
  const open = stretches.at(-1);
  if (open) open[1] = widen(text, rawEnd, 1);
  return stretches.map(([start, end]) => ({
    offset: start,
    view: foldForDetection(text.slice(start, end))!,
  }));
}

/** `at` moved outward (`step` -1 or 1) to a whitespace or the text's edge, at most 64 further. */
function widen(text: string, at: number, step: -1 | 1): number {
  if (at <= 0) return 0;
  if (at >= text.length) return text.length;
  for (let i = 0; i < 64; i++, at += step) {
    if (at <= 0 || at >= text.length || /\s/.test(text[step < 0 ? at - 1 : at])) break;
  }
  return Math.max(0, Math.min(text.length, at));
}

/** Whether `text` holds a character folding changes. */
export function hasFoldable(text: string): boolean {
  return MAY_FOLD.test(text) && FOLDABLE.test(text);
}
