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
const LIFTED = 0.85;

function validIn(candidate: string, region?: CountryCode): boolean {
  const parsed = parsePhoneNumberFromString(candidate, region ? { defaultCountry: region } : {});
  return parsed?.isValid() ?? false;
}

function confidenceOf(candidate: string): number {
  if (candidate.startsWith("+") || candidate.startsWith("(+")) {
    return validIn(candidate.replace(/^\(\+?(\d+)\)/, "+$1")) ? INTERNATIONAL_CONFIDENCE : 0;
  }
  if (IDD.test(candidate) && validIn("+" + candidate.replace(IDD, ""))) {
    return INTERNATIONAL_CONFIDENCE;
  }
  // Ten bare digits are as often an order or ticket number: a context word decides.
  if (validIn(candidate, "US")) {
    return /^\d+$/.test(candidate) ? OTHER_REGION_CONFIDENCE : US_CONFIDENCE;
  }
  for (const region of PHONE_REGIONS) {
    if (region !== "US" && validIn(candidate, region)) return OTHER_REGION_CONFIDENCE;
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
