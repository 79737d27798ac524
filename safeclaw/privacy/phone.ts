/**
 * Phone numbers in international and national formats, validated against libphonenumber's
 * metadata: `+` and `00`/`001`/`011` prefixes, dots, dashes, parentheses, extensions, and short
 * local numbers when a context word is near.
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/max";
import type { Detection } from "./entities.ts";
import { hasContext } from "./context.ts";

/** The regions whose national formats are tried, default region first. */
export const PHONE_REGIONS: readonly CountryCode[] = [
  "US",
  "GB",
  "DE",
  "FR",
  "ES",
  "IT",
  "NL",
  "BE",
  "CH",
  "AT",
  "SE",
  "NO",
  "DK",
  "FI",
  "PL",
  "PT",
  "IE",
  "CZ",
  "BR",
  "MX",
  "AR",
  "IN",
  "CN",
  "JP",
  "KR",
  "AU",
  "NZ",
  "SG",
  "RU",
  "ZA",
  "TR",
  "CA",
];

// A run of digit groups joined by one separator, optionally led by + or an international
// prefix in parentheses, optionally followed by an extension.
const CANDIDATE =
  /(?<![A-Za-z0-9_+@.\/#-]|[0-9] |\b[A-Z0-9]{4} |ISBN[ :]?)(?:\+\s?|\(\+?)?\d(?:[\d]|[ .\-\/]\(?\d|\)[ .-]?\d|\(\d)*(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?(?![A-Za-z0-9_]|[.-]\d)/g;

const IDD = /^(?:00|011|001)[ .-]?/;
// North American numbering: optional 1, area code and exchange starting 2-9, then four digits.
const NANP_SHAPE =
  /^(?:1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?$/;
const DATE_LIKE = /^(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,3}(?:\.\d{1,3}){3})$/;

const US_CONFIDENCE = 0.85;
const INTERNATIONAL_CONFIDENCE = 0.9;
const OTHER_REGION_CONFIDENCE = 0.45;
const SHORT_LOCAL_CONFIDENCE = 0.3;
const POSSIBLE_CONFIDENCE = 0.35;
const LIFTED = 0.85;

type Verdict = "valid" | "possible" | undefined;

function judge(candidate: string, region?: CountryCode): Verdict {
  const parsed = parsePhoneNumberFromString(candidate, region ? { defaultCountry: region } : {});
  if (!parsed) return undefined;
  return parsed.isValid() ? "valid" : parsed.isPossible() ? "possible" : undefined;
}

// A number of the right length whose range the metadata does not list (generators such as
// Faker draw digits at random) is kept as a weak match that a context word can lift. National
// numbers of other regions are weak too, so without a context word (`lifted` false) they are
// not worth the metadata look-ups.
function confidenceOf(candidate: string, lifted: boolean): number {
  const international = candidate.startsWith("+") || candidate.startsWith("(+")
    ? candidate.replace(/^\(\+?(\d+)\)/, "+$1")
    : IDD.test(candidate)
    ? "+" + candidate.replace(IDD, "")
    : undefined;
  if (international !== undefined) {
    const verdict = judge(international);
    if (verdict === "valid") return INTERNATIONAL_CONFIDENCE;
    if (verdict === "possible") return OTHER_REGION_CONFIDENCE;
    if (!IDD.test(candidate)) return 0;
  }
  // Parsing is the expensive step (about 0.1 ms): only NANP-shaped numbers are tried as US
  // numbers, and other regions only when a context word could lift the result.
  const us = NANP_SHAPE.test(candidate) ? judge(candidate, "US") : undefined;
  // Ten bare digits are as often an order or ticket number: a context word decides.
  if (us === "valid") return /^\d+$/.test(candidate) ? OTHER_REGION_CONFIDENCE : US_CONFIDENCE;
  if (!lifted) return 0;
  if (us === "possible") return POSSIBLE_CONFIDENCE;
  // With a context word near, valid and possible lift alike: the first region that accepts
  // the number settles it.
  for (const region of PHONE_REGIONS) {
    if (region === "US") continue;
    const verdict = judge(candidate, region);
    if (verdict === "valid") return OTHER_REGION_CONFIDENCE;
    if (verdict === "possible") return POSSIBLE_CONFIDENCE;
  }
  return 0;
}

/**
 * Finds phone numbers in `text`.
 *
 * @example
 * ```ts
 * import { findPhones } from "./phone.ts";
 * console.log(findPhones("call 001-541-754-3010x123")[0].start); // 5
 * ```
 */
export function findPhones(text: string, known: readonly Detection[] = []): Detection[] {
  const found: Detection[] = [];
  let k = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const candidate = match[0];
    const digits = candidate.replace(/\D/g, "").length;
    if (digits < 7 || digits > 21 || DATE_LIKE.test(candidate)) continue;
    const start = match.index;
    const end = start + candidate.length;
    // A span the scanner already reported (a card, an IBAN, a phone) needs no second look,
    // unless this reading is longer (an extension the scanner stopped before).
    while (k < known.length && known[k].end <= start) k++;
    if (k < known.length && known[k].start <= start && known[k].end >= end) continue;
    const context = hasContext(text, start, end, "phone");
    let confidence = confidenceOf(candidate, context);
    // Seven or eight digits with no area code: a local number, only with a context word.
    if (confidence === 0 && digits <= 8 && /^\d{3,4}[ .-]?\d{4}$/.test(candidate)) {
      confidence = SHORT_LOCAL_CONFIDENCE;
    }
    if (confidence === 0) continue;
    if (confidence < LIFTED && context) confidence = LIFTED;
    found.push({ type: "phone", start, end, confidence });
  }
  return found;
}
