/** Payment card schemes by issuer prefix and length (ISO/IEC 7812 ranges as schemes publish them). */

/** A scheme's prefix ranges and allowed lengths. */
interface Scheme {
  name: string;
  /** Inclusive prefix ranges, compared on the first `String(low).length` digits. */
  ranges: readonly (readonly [number, number])[];
  lengths: readonly number[];
}

const SCHEMES: readonly Scheme[] = [
  { name: "visa", ranges: [[4, 4]], lengths: [13, 16, 19] },
  { name: "mastercard", ranges: [[51, 55], [2221, 2720]], lengths: [16] },
  { name: "amex", ranges: [[34, 34], [37, 37]], lengths: [15] },
  { name: "discover", ranges: [[6011, 6011], [644, 649], [65, 65]], lengths: [16, 17, 18, 19] },
  {
    name: "diners",
    ranges: [[300, 305], [3095, 3095], [36, 36], [38, 39]],
    lengths: [14, 15, 16, 17, 18, 19],
  },
  { name: "jcb", ranges: [[3528, 3589]], lengths: [16, 17, 18, 19] },
  { name: "jcb", ranges: [[2131, 2131], [1800, 1800]], lengths: [15] },
  { name: "unionpay", ranges: [[62, 62]], lengths: [16, 17, 18, 19] },
  { name: "mir", ranges: [[2200, 2204]], lengths: [16, 17, 18, 19] },
  {
    name: "maestro",
    ranges: [[50, 50], [56, 69], [6759, 6759], [676770, 676774]],
    lengths: [12, 13, 14, 15, 16, 17, 18, 19],
  },
];

/**
 * The scheme a card number belongs to by prefix and length, or undefined.
 *
 * @example
 * ```ts
 * import { cardScheme } from "./cards.ts";
 * console.log(cardScheme("213112345678900")); // "jcb"
 * ```
 */
export function cardScheme(digits: string): string | undefined {
  for (const scheme of SCHEMES) {
    if (!scheme.lengths.includes(digits.length)) continue;
    for (const [low, high] of scheme.ranges) {
      const width = String(low).length;
      const prefix = Number(digits.slice(0, width));
      if (prefix >= low && prefix <= high) return scheme.name;
    }
  }
  return undefined;
}
