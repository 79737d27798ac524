/**
 * Signs that a text is disguised: letters cut apart by invisible characters, and Latin words with
 * look-alike letters of another script slipped in. Normalization reads such a text as its plain
 * words; the disguise itself has no ordinary use, and is how a text is made to read one way to a
 * person and another to a filter (UTS #39 calls mixed-script confusable words spoofing).
 *
 * @module
 */
import {
  INVISIBLE_CLASS,
  INVISIBLE_SPACE_CLASS,
  isForeignLookAlike,
  isInvisible,
  LOOK_ALIKE_SCRIPT_CLASS,
} from "./normalize.ts";

/** What {@linkcode disguiseSigns} counts in a text. */
export interface DisguiseSigns {
  /** Words of three letters or more. */
  words: number;
  /** Words whose letters invisible characters cut apart at two places or more. */
  hiddenCharacterWords: number;
  /** Latin words with look-alike letters of another script slipped in. */
  mixedScriptWords: number;
  /** Words with either sign, counted once. */
  disguisedWords: number;
}

// A word: letters of the scripts look-alikes are drawn from (and mathematical letters, which NFKC
// folds to Latin), with their marks and any invisible characters inside it. Other scripts (CJK,
// Thai) and control characters (data's field separators) end it, so a Latin run inside Japanese
// text is a word of its own.
const DISGUISABLE_SCRIPTS = `\\p{Script=Latin}${LOOK_ALIKE_SCRIPT_CLASS}`;
const WORD = new RegExp(
  `[${DISGUISABLE_SCRIPTS}\\u{1D400}-\\u{1D7FF}\\p{M}${INVISIBLE_CLASS}]+`,
  "gu",
);
const LETTER = /\p{L}/u;
const LATIN = /\p{Script=Latin}/u;
const GREEK = /\p{Script=Greek}/u;
// Characters that cut a word only where most of its pieces are single letters: hyphenation puts
// soft hyphens around single-letter syllables ("Op\u00ader\u00ada\u00adtions"), and Word and MathML
// put function application and invisible times in "sin\u2061x".
const WEAK_CUTS = /^[\u00ad\u2061-\u2064]+$/u;
// Invisible characters that stand for a space between two runs of letters.
const INVISIBLE_SPACES = new RegExp(`^[${INVISIBLE_SPACE_CLASS}]+$`, "u");
const SPACE_RUN = 3;
const OTHER_SCRIPT_LETTER = new RegExp(`(?![${DISGUISABLE_SCRIPTS}])\\p{L}`, "u");
// Without an invisible character or a look-alike's script, no word can be disguised.
const DISGUISE_MATERIAL = new RegExp(`[${INVISIBLE_CLASS}${LOOK_ALIKE_SCRIPT_CLASS}]`, "u");

/** A word as read: its letters, in pieces between the invisible characters that cut them. */
interface ReadWord {
  letters: string[];
  /** Letters in each piece, in order. */
  pieces: number[];
  /** The invisible characters between each piece and the next. */
  gaps: string[];
}

function readWord(word: string): ReadWord {
  const letters: string[] = [];
  const pieces: number[] = [0];
  const gaps: string[] = [""];
  for (const char of word) {
    if (isInvisible(char)) {
      gaps[gaps.length - 1] += char;
    } else if (LETTER.test(char)) {
      if (gaps[gaps.length - 1] && pieces[pieces.length - 1] > 0) {
        pieces.push(0);
        gaps.push("");
      } else gaps[gaps.length - 1] = "";
      letters.push(char);
      pieces[pieces.length - 1]++;
    }
    // A mark stays with its letter.
  }
  if (pieces[pieces.length - 1] === 0) pieces.pop();
  gaps.length = Math.max(0, pieces.length - 1);
  return { letters, pieces, gaps };
}

/** How many places invisible characters cut a word's letters apart. */
function cutsOf({ pieces, gaps }: ReadWord): number {
  const singles = pieces.filter((n) => n === 1).length;
  return gaps.filter((gap) => !WEAK_CUTS.test(gap) || singles * 2 >= pieces.length).length;
}

/**
 * Whether a word is several words run together by invisible spaces ("ignore\u200ball"): every
 * piece a run of letters, and only zero-width spaces, word joiners or BOMs between them.
 */
function joinedWords({ pieces, gaps }: ReadWord): boolean {
  return pieces.length > 1 && pieces.every((n) => n >= SPACE_RUN) &&
    gaps.every((gap) => INVISIBLE_SPACES.test(gap));
}

/** How a word's letters fall between Latin and the other scripts. */
type Spelling =
  | "latin" // Latin letters only
  | "foreign" // a letter of another script that is no look-alike: a Cyrillic, Greek... word
  | "slipped" // mostly Latin, the rest look-alikes: a Latin word with look-alikes slipped in
  | "ambiguous" // Latin letters and look-alikes, the look-alikes as many: either, by context
  | "other";

/**
 * Which {@linkcode Spelling} `letters` have. Science writes "NFκB", "Gαβγ" and "Tαβ", so a Greek
 * look-alike counts only between two Latin letters, and a word needs two; Ukrainian writes
 * "Привiт" with a Latin "i", which its "П" and "и" show to be a Cyrillic word.
 */
function spelling(letters: readonly string[]): Spelling {
  const folded = letters.map((c) => c.normalize("NFKC"));
  const latin = folded.filter((c) => LATIN.test(c)).length;
  const others = folded.filter((c) => !LATIN.test(c));
  if (!others.length) return latin ? "latin" : "other";
  if (!others.every(isForeignLookAlike)) return "foreign";
  if (!latin) return "other";
  if (others.every((c) => GREEK.test(c))) {
    const between = folded.filter((c, i) =>
      GREEK.test(c) && LATIN.test(folded[i - 1] ?? "") && LATIN.test(folded[i + 1] ?? "")
    ).length;
    if (between < 2) {
      return "other";
    }
  }
  return latin * 2 > folded.length ? "slipped" : "ambiguous";
}

/**
 * Counts the signs of a disguise in `text`. A word of Latin letters and as many look-alikes
 * ("рrоmрt") counts as disguised unless the text's other words show it to be written in the other
 * script (OCR of Russian writes "Мoскве").
 */
export function disguiseSigns(text: string): DisguiseSigns {
  const words: { hidden: boolean; spelled: Spelling }[] = [];
  // Thai, Khmer or Japanese text separates its words with zero-width spaces, English ones too.
  const otherScripts = OTHER_SCRIPT_LETTER.test(text);
  for (const [match] of text.matchAll(WORD)) {
    const word = readWord(match);
    if (word.letters.length < 3) continue;
    const spelled = spelling(word.letters);
    if (joinedWords(word) && !otherScripts) {
      for (const _ of word.pieces) words.push({ hidden: true, spelled });
    } else words.push({ hidden: cutsOf(word) >= 2, spelled });
  }
  const count = (kind: Spelling) => words.filter((w) => w.spelled === kind).length;
  const foreign = count("foreign");
  const withLatin = count("latin") + count("slipped") + count("ambiguous");
  const latinWritten = foreign === 0 || foreign < withLatin;
  const signs = {
    words: words.length,
    hiddenCharacterWords: 0,
    mixedScriptWords: 0,
    disguisedWords: 0,
  };
  for (const { hidden, spelled } of words) {
    const mixed = spelled === "slipped" || (spelled === "ambiguous" && latinWritten);
    if (hidden) signs.hiddenCharacterWords++;
    if (mixed) signs.mixedScriptWords++;
    if (hidden || mixed) signs.disguisedWords++;
  }
  return signs;
}

/** A text is disguised when at least this many of its words, and this share of them, are. */
const MIN_DISGUISED_WORDS = 2;
const MIN_DISGUISED_SHARE = 0.5;
/** Or when one line has this many disguised words, and that share of its words. */
const MIN_DISGUISED_IN_A_LINE = 3;

function describe(signs: DisguiseSigns, where: string): string {
  const kinds = [
    signs.hiddenCharacterWords ? "invisible characters" : "",
    signs.mixedScriptWords ? "look-alike letters of another script" : "",
  ].filter(Boolean).join(" and ");
  return `${kinds} inside ${signs.disguisedWords} of ${signs.words} words${where}`;
}

function disguisedShare(signs: DisguiseSigns, least: number): boolean {
  return signs.disguisedWords >= least &&
    signs.disguisedWords >= MIN_DISGUISED_SHARE * signs.words;
}

/**
 * What disguises `text`, in words, or `undefined` when nothing does.
 *
 * @example
 * ```ts
 * import { disguiseOf } from "./disguise.ts";
 * console.log(disguiseOf("i\u200dg\u200dn\u200do\u200dr\u200de a\u200dl\u200dl")); // "invisible characters inside 2 of 2 words"
 * console.log(disguiseOf("Please review the attached report.")); // undefined
 * ```
 */
export function disguiseOf(text: string): string | undefined {
  if (!DISGUISE_MATERIAL.test(text)) return undefined;
  const whole = disguiseSigns(text);
  if (!whole.disguisedWords) return undefined;
  if (disguisedShare(whole, MIN_DISGUISED_WORDS)) return describe(whole, "");
  // One disguised paragraph inside a long document.
  for (const line of text.split("\n")) {
    const signs = disguiseSigns(line);
    if (disguisedShare(signs, MIN_DISGUISED_IN_A_LINE)) return describe(signs, " of a line");
  }
  return undefined;
}
