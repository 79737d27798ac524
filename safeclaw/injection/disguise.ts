/**
 * Signs that a text is disguised: letters spelled with invisible characters between them, and
 * words that mix Latin letters with Cyrillic, Greek or Armenian look-alikes. Normalization reads
 * such a text as its plain words; the disguise itself has no ordinary use, and is how a text is
 * made to read one way to a person and another to a filter (UTS #39 calls mixed-script
 * confusable words spoofing).
 *
 * @module
 */
import { isForeignLookAlike, isInvisible } from "./normalize.ts";

/** What {@linkcode disguiseSigns} counts in a text. */
export interface DisguiseSigns {
  /** Words of three letters or more. */
  words: number;
  /** Words with an invisible character between two of their letters. */
  hiddenCharacterWords: number;
  /** Words that mix Latin letters with look-alikes from another script. */
  mixedScriptWords: number;
}

// A word: letters and marks, with any invisible characters inside it.
const WORD = /[\p{L}\p{M}\p{Default_Ignorable_Code_Point}\p{Cf}\u180e]+/gu;
const DISGUISABLE = /[\p{Script=Latin}\p{Script=Cyrillic}\p{Script=Greek}]/u;
const LATIN = /\p{Script=Latin}/u;
const GREEK = /\p{Script=Greek}/u;
const SOFT_HYPHEN = "\u00ad";

/** Counts the signs of a disguise in `text`. */
export function disguiseSigns(text: string): DisguiseSigns {
  const signs = { words: 0, hiddenCharacterWords: 0, mixedScriptWords: 0 };
  for (const [word] of text.matchAll(WORD)) {
    const chars = [...word];
    const letters = chars.filter((c) => !isInvisible(c) && /\p{L}/u.test(c));
    if (letters.length < 3) continue;
    signs.words++;
    if (hasHiddenCharacter(chars)) signs.hiddenCharacterWords++;
    if (mixesScripts(letters)) signs.mixedScriptWords++;
  }
  return signs;
}

/** An invisible character (not the soft hyphen, which marks where a word may break) inside. */
function hasHiddenCharacter(chars: readonly string[]): boolean {
  for (let i = 1; i < chars.length - 1; i++) {
    if (!isInvisible(chars[i]) || chars[i] === SOFT_HYPHEN) continue;
    let after = i + 1;
    while (after < chars.length && isInvisible(chars[after])) after++;
    if (DISGUISABLE.test(chars[i - 1]) && after < chars.length && DISGUISABLE.test(chars[after])) {
      return true;
    }
  }
  return false;
}

/**
 * Latin letters beside look-alikes of another script. A Greek letter counts only inside the word:
 * science writes "TNFα" and "αSMA".
 */
function mixesScripts(letters: readonly string[]): boolean {
  if (!letters.some((c) => LATIN.test(c))) return false;
  return letters.some((c, i) =>
    isForeignLookAlike(c) && (!GREEK.test(c) || (i > 0 && i < letters.length - 1))
  );
}

/** At least this many disguised words, and this share of the words, make a text disguised. */
const MIN_DISGUISED_WORDS = 2;
const MIN_DISGUISED_SHARE = 0.25;

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
  const signs = disguiseSigns(text);
  const enough = (n: number) => n >= MIN_DISGUISED_WORDS && n >= MIN_DISGUISED_SHARE * signs.words;
  if (enough(signs.hiddenCharacterWords)) {
    return `invisible characters inside ${signs.hiddenCharacterWords} of ${signs.words} words`;
  }
  if (enough(signs.mixedScriptWords)) {
    return `look-alike letters of another script mixed into ${signs.mixedScriptWords} of ` +
      `${signs.words} words`;
  }
  return undefined;
}
