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
  /(?<![\p{L}\p{N}_+@.\/#-]|\p{N} |\b[A-Z0-9]{4} |ISBN[ :]?)(?:\+\s?|\(\+?)?\d(?:[\d]|[ .\-\/]\(?\d|\)[ .-]?\d|\(\d)*(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?(?![\p{L}\p{N}_]|[.-]\d)/gu;

const IDD = /^(?:00|011|001)[ .-]?/;
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
// Faker draw digits at random) is kept as a weak match that a context word can lift.
function confidenceOf(candidate: string): number {
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
  const us = judge(candidate, "US");
  // Ten bare digits are as often an order or ticket number: a context word decides.
  if (us === "valid") return /^\d+$/.test(candidate) ? OTHER_REGION_CONFIDENCE : US_CONFIDENCE;
  let best = us === "possible" ? POSSIBLE_CONFIDENCE : 0;
  for (const region of PHONE_REGIONS) {
    if (region === "US") continue;
    const verdict = judge(candidate, region);
    if (verdict === "valid") return OTHER_REGION_CONFIDENCE;
    if (verdict === "possible") best = POSSIBLE_CONFIDENCE;
  }
  return best;
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
export function findPhones(text: string): Detection[] {
  const found: Detection[] = [];
  for (const match of text.matchAll(CANDIDATE)) {
    const candidate = match[0];
    const digits = candidate.replace(/\D/g, "").length;
    if (digits < 7 || digits > 21 || DATE_LIKE.test(candidate)) continue;
    const start = match.index;
    const end = start + candidate.length;
    let confidence = confidenceOf(candidate);
    // Seven or eight digits with no area code: a local number, only with a context word.
    if (confidence === 0 && digits <= 8 && /^\d{3,4}[ .-]?\d{4}$/.test(candidate)) {
      confidence = SHORT_LOCAL_CONFIDENCE;
    }
    if (confidence === 0) continue;
    if (confidence < LIFTED && hasContext(text, start, end, "phone")) confidence = LIFTED;
    found.push({ type: "phone", start, end, confidence });
  }
  return found;
}
