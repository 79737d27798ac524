/**
 * Signs that a text is disguised: letters cut apart by invisible characters, and Latin words with
 * look-alike letters of another script slipped in. Normalization reads such a text as its plain
 * words; the disguise itself has no ordinary use, and is how a text is made to read one way to a
 * person and another to a filter (UTS #39 calls mixed-script confusable words spoofing).
 *
 * @module
 */
import { isForeignLookAlike, isInvisible } from "./normalize.ts";

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
// Thai) end it, so a Latin run inside Japanese text is a word of its own.
const WORD =
  // deno-lint-ignore no-control-regex
  /[\p{Script=Latin}\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Armenian}\u{1D400}-\u{1D7FF}\p{M}\p{Default_Ignorable_Code_Point}\p{Cf}\u180e\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f]+/gu;
const LETTER = /\p{L}/u;
const LATIN = /\p{Script=Latin}/u;
const GREEK = /\p{Script=Greek}/u;
const SOFT_HYPHEN = "\u00ad";
// Function application, invisible times, separator and plus: Word and MathML write them in
// "sin⁡x", and they cut nothing.
const MATH_OPERATORS = /[\u2061-\u2064]/u;

/** The letters of a word, and how many places invisible characters cut them apart. */
function readWord(word: string): { letters: string[]; cuts: number } {
  const letters: string[] = [];
  // The letters between cuts, and the hidden characters after each piece.
  const pieces: number[] = [0];
  const gaps: string[] = [""];
  for (const char of word) {
    if (MATH_OPERATORS.test(char)) continue;
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
  let cuts = 0;
  for (let i = 0; i + 1 < pieces.length; i++) {
    const onlySoftHyphens = [...gaps[i]].every((c) => c === SOFT_HYPHEN);
    // Hyphenation leaves two letters or more on each side; a single letter is spelled apart.
    if (!onlySoftHyphens || pieces[i] === 1 || pieces[i + 1] === 1) cuts++;
  }
  return { letters, cuts };
}

/** How a word's letters fall between Latin and the other scripts. */
type Spelling =
  | "latin" // Latin letters only
  | "foreign" // a letter of another script that is no look-alike: a Cyrillic, Greek... word
  | "slipped" // mostly Latin, the rest look-alikes: a Latin word with look-alikes slipped in
  | "ambiguous" // Latin letters and look-alikes, the look-alikes as many: either, by context
  | "other";

/**
 * Which {@linkcode Spelling} `letters` have. Science writes "NFκB", "IκBα" and "Tαβ", so Greek
 * needs two look-alikes inside a word, not at its ends; Ukrainian writes "Привiт" with a Latin "i", which its "П" and "и" show to
 * be a Cyrillic word.
 */
function spelling(letters: readonly string[]): Spelling {
  const folded = letters.map((c) => c.normalize("NFKC"));
  const latin = folded.filter((c) => LATIN.test(c)).length;
  const others = folded.filter((c) => !LATIN.test(c));
  if (!others.length) return latin ? "latin" : "other";
  if (!others.every(isForeignLookAlike)) return "foreign";
  if (!latin) return "other";
  const inside = folded.slice(1, -1).filter((c) => GREEK.test(c)).length;
  if (others.every((c) => GREEK.test(c)) && inside < 2) return "other";
  return latin * 2 > folded.length ? "slipped" : "ambiguous";
}

/**
 * Counts the signs of a disguise in `text`. A word of Latin letters and as many look-alikes
 * ("рrоmрt") counts as disguised unless the text's other words show it to be written in the other
 * script (OCR of Russian writes "Мoскве").
 */
export function disguiseSigns(text: string): DisguiseSigns {
  const words: { hidden: boolean; spelled: Spelling }[] = [];
  for (const [word] of text.matchAll(WORD)) {
    const { letters, cuts } = readWord(word);
    if (letters.length < 3) continue;
    words.push({ hidden: cuts >= 2, spelled: spelling(letters) });
  }
  const count = (kind: Spelling) => words.filter((w) => w.spelled === kind).length;
  const foreign = count("foreign");
  const latinWritten = foreign === 0 || foreign < count("latin") + count("slipped");
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
