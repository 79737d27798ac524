/**
 * The view of a text the taint tracker compares: the classifier's fold (fullwidth and
 * mathematical letters and digits, zero-width characters, look-alike punctuation), every other
 * character Unicode says to draw as nothing, and the Cyrillic and Greek letters drawn like Latin
 * ones. A value tracked as `4111111111111111` must still be found when written `４１１１…`,
 * `huntеr2pаss` (Cyrillic е and а) or with U+2063 between its characters: a reader, or a system
 * that normalizes (NFKC), gets the value back from each.
 */
import { foldForDetection } from "./privacy/fold.ts";

/**
 * Characters drawn as nothing (variation selectors, tag characters, the combining grapheme
 * joiner, invisible operators, bidi controls): inserted between a value's characters they
 * change nothing a reader sees.
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * Letters of other scripts that a reader takes for Latin ones. Only letters drawn the same in
 * common fonts: a substitution an attacker could use without the reader noticing.
 */
const LOOK_ALIKES: Readonly<Record<string, string>> = {
  // Cyrillic, lower case.
  "а": "a",
  "в": "b",
  "е": "e",
  "ё": "e",
  "к": "k",
  "м": "m",
  "н": "h",
  "о": "o",
  "р": "p",
  "с": "c",
  "т": "t",
  "у": "y",
  "х": "x",
  "ѕ": "s",
  "і": "i",
  "ї": "i",
  "ј": "j",
  "ԁ": "d",
  "ԛ": "q",
  "ԝ": "w",
  "һ": "h",
  // Cyrillic, upper case.
  "А": "A",
  "В": "B",
  "Е": "E",
  "К": "K",
  "М": "M",
  "Н": "H",
  "О": "O",
  "Р": "P",
  "С": "C",
  "Т": "T",
  "У": "Y",
  "Х": "X",
  "Ѕ": "S",
  "І": "I",
  "Ј": "J",
  // Greek.
  "α": "a",
  "ο": "o",
  "ρ": "p",
  "ν": "v",
  "ι": "i",
  "κ": "k",
  "Α": "A",
  "Β": "B",
  "Ε": "E",
  "Ζ": "Z",
  "Η": "H",
  "Ι": "I",
  "Κ": "K",
  "Μ": "M",
  "Ν": "N",
  "Ο": "O",
  "Ρ": "P",
  "Τ": "T",
  "Υ": "Y",
  "Χ": "X",
  // Latin letters without their dot.
  "ı": "i",
  "ȷ": "j",
};
const LOOK_ALIKE = new RegExp(`[${Object.keys(LOOK_ALIKES).join("")}]`, "g");

/**
 * `text` as the taint tracker compares it, letter case kept: folded as the classifier folds,
 * invisible characters dropped, look-alike letters replaced by the Latin ones they imitate.
 * ASCII text is returned as it is.
 *
 * @example
 * ```ts
 * import { foldForTaint } from "./taint_fold.ts";
 * console.log(foldForTaint("４１１１\u2063１１１１ huntеr2pаss")); // "41111111 hunter2pass"
 * ```
 */
export function foldForTaint(text: string): string {
  // deno-lint-ignore no-control-regex
  if (!/[^\u0000-\u007f]/.test(text)) return text;
  const folded = foldForDetection(text)?.folded ?? text;
  return folded.replace(INVISIBLE, "").replace(LOOK_ALIKE, (c) => LOOK_ALIKES[c]);
}
