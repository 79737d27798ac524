/**
 * Phone numbers in international and national formats, validated against libphonenumber's
 * metadata: `+` and `00`/`001`/`011` prefixes, dots, dashes, parentheses, extensions, and short
 * local numbers when a context word is near.
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/max";
import type { Detection, EntityType } from "./entities.ts";
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

// An extension: "x1234", "ext. 42", or "#14" right after the number ("+1 415 555 2671#14", as a
// dialler takes it); a "#" after a space numbers something else ("... 2671 #14": an issue, a
// room, an item).
const EXTENSION = String.raw`(?:\s*(?:x|ext\.?|extension)\s*\d{1,6}|#\d{1,6})`;
// A run of digit groups joined by one separator, optionally led by + or an international
// prefix in parentheses, optionally followed by an extension.
// A time after the number ("415-555-2671 10:30") is not read into it.
const CANDIDATE = new RegExp(
  String.raw`(?<![A-Za-z0-9_+@.\/#-]|[0-9] |\b[A-Z0-9]{4} |ISBN[ :]?)(?:\+\s?|\(\+?)?\d` +
    String.raw`(?:[\d]|[ .\-\/]\(?\d|\)[ .-]?\d|\(\d)*${EXTENSION}?(?![A-Za-z0-9_]|[.:-]\d)`,
  "g",
);
// A date after a space is a value of its own: "020 7946 0958 12/03/2024".
const TRAILING_DATE = / \d{1,4}\/\d{1,4}(?:\/\d{1,4})?$/;

const IDD = /^(?:00|011|001)[ .-]?/;
// North American numbering: optional 1, area code and exchange starting 2-9, then four digits.
const NANP_SHAPE = new RegExp(
  String.raw`^(?:1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}${EXTENSION}?$`,
);
// A Chinese mobile as the scanner reads one: "13800138000", "138 0013 8000", "138-0013-8000".
const CN_MOBILE = /^1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})$/;
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
/**
 * Region-by-region parses one classification may spend (each about 0.1 ms), all of its
 * candidates and folded windows together: a megabyte of numbers that no region accepts beside
 * "Tel", or of national numbers each followed by a count, took 7 to 14 s. Past it a candidate is
 * judged as no parse would make it safer: beside a context word a number of phone length is a
 * possible phone, and a trailing group is read into the number (a count redacted with it).
 */
export const PHONE_PARSE_BUDGET = 4096;

/** What is left of a classification's {@linkcode PHONE_PARSE_BUDGET}. */
export interface PhoneBudget {
  /** Region-by-region parses left. */
  parses: number;
}

/**
 * A fresh budget for one classification, to pass to every {@linkcode findPhones} call it makes.
 *
 * @example
 * ```ts
 * import { phoneBudget, PHONE_PARSE_BUDGET } from "./phone.ts";
 * console.log(phoneBudget().parses === PHONE_PARSE_BUDGET); // true
 * ```
 */
export function phoneBudget(): PhoneBudget {
  return { parses: PHONE_PARSE_BUDGET };
}

// The longest national number any region has (libphonenumber's limit): a longer one is no
// region's, whatever a context word says.
const MAX_NATIONAL_DIGITS = 17;

function confidenceOf(candidate: string, lifted: boolean, budget: PhoneBudget): number {
  const international = candidate.startsWith("+") || candidate.startsWith("(+")
    ? candidate.replace(/^\(\+?(\d+)\)/, "+$1")
    : IDD.test(candidate)
    ? "+" + candidate.replace(IDD, "")
    : undefined;
  if (international !== undefined) {
    const verdict = judge(international);
    // Bare digits after 00 are as often a barcode ("0032050576204"): a context word decides.
    if (verdict === "valid") {
      return /^\d+$/.test(candidate) ? OTHER_REGION_CONFIDENCE : INTERNATIONAL_CONFIDENCE;
    }
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
  if (candidate.replace(/\D/g, "").length > MAX_NATIONAL_DIGITS) return 0;
  for (const region of PHONE_REGIONS) {
    if (region === "US") continue;
    if (budget.parses <= 0) return POSSIBLE_CONFIDENCE;
    budget.parses--;
    const verdict = judge(candidate, region);
    if (verdict === "valid") return OTHER_REGION_CONFIDENCE;
    if (verdict === "possible") return POSSIBLE_CONFIDENCE;
  }
  return 0;
}

// The judgment findPhones passes on each candidate: libphonenumber's verdict, lifted by a
// context word; seven or eight digits with no area code only with a context word.
function candidateConfidence(
  candidate: string,
  digits: number,
  context: boolean,
  budget: PhoneBudget,
): number {
  let confidence = confidenceOf(candidate, context, budget);
  if (confidence === 0 && digits <= 8 && /^\d{3,4}[ .-]?\d{4}$/.test(candidate)) {
    confidence = SHORT_LOCAL_CONFIDENCE;
  }
  if (confidence > 0 && confidence < LIFTED && context) confidence = LIFTED;
  return confidence;
}

/**
 * Re-judges a phone number the WebAssembly scanner found by its layout alone, with the same
 * metadata as {@linkcode findPhones}: "123-456-7890", "(000) 000-0000" and "+1 555 555 5555"
 * have a phone's layout but are not assigned numbers, so with no context word near they fall
 * below the threshold. The metadata only lowers the scanner's confidence, never raises it.
 *
 * @example
 * ```ts
 * import { judgeScannerPhone } from "./phone.ts";
 * const text = "Ref 123-456-7890 in the ledger";
 * console.log(judgeScannerPhone(text, { type: "phone", start: 4, end: 16, confidence: 0.85 }));
 * // confidence 0
 * ```
 */
export function judgeScannerPhone(text: string, scanned: Detection): Detection {
  const finding = withoutTrailingGroup(text, scanned);
  const candidate = text.slice(finding.start, finding.end);
  const digits = candidate.replace(/\D/g, "").length;
  // A context word lifts the layout as it lifts any weak match, even where the metadata has no
  // verdict (Faker draws digits and country codes at random: "Cellulare: +72 4601 0848175").
  if (hasContext(text, finding.start, finding.end, "phone")) return finding;
  // A "+" and a number valid in its country is a phone whatever label stands before it (a lot
  // or an order number is not written that way): parsed only where a label would refuse it.
  if (
    labeledAsOther(text, finding.start, digits) &&
    !(candidate.startsWith("+") && judge(candidate) === "valid")
  ) return { ...finding, confidence: 0 };
  // A national number with a trunk 0 names no region, and one of the 32 regions takes nearly
  // every such number (99-100% of random ones in the scanner's layouts), so the metadata cannot
  // tell them apart: the scanner's layout check is the judgment.
  if (/^\(?0[1-9]/.test(candidate)) return finding;
  // Eleven digits led by 1[3-9] are a Chinese mobile before they are a US number with its
  // country code; in groups they are nothing else.
  if (CN_MOBILE.test(candidate)) {
    if (judge(candidate, "CN") === "valid") return finding;
    if (/[ -]/.test(candidate)) return { ...finding, confidence: 0 };
  }
  // Not lifted: no region-by-region parse, so no budget is spent.
  const confidence = candidateConfidence(candidate, digits, false, phoneBudget());
  return { ...finding, confidence: Math.min(finding.confidence, confidence) };
}

/**
 * `finding` without a last group of digits that the scanner's layout took from the words after
 * the number ("+1 415 555 2671 100 times"), when the number is valid only without it: the
 * layout allows more groups than most numbers have.
 */
function withoutTrailingGroup(text: string, finding: Detection): Detection {
  const candidate = text.slice(finding.start, finding.end);
  const kept = withoutTrailingDigits(candidate);
  return kept === candidate.length ? finding : { ...finding, end: finding.start + kept };
}

/**
 * How much of `candidate` is the number: all of it, or all but a last group of one to four
 * digits when only the number without that group is valid ("(415) 555-2671 100 times"). Tried
 * for international numbers and North American layouts: the metadata then names the region.
 */
function withoutTrailingDigits(candidate: string): number {
  const shorter = /^(.*\d)[ .-]+\d{1,4}$/.exec(candidate)?.[1];
  if (!shorter) return candidate.length;
  const region = candidate.startsWith("+") ? undefined : NANP_SHAPE.test(shorter) ? "US" : null;
  if (region === null || judge(candidate, region) === "valid") return candidate.length;
  return judge(shorter, region) === "valid" ? shorter.length : candidate.length;
}

// Labels of other numbers that take a phone's layout. A type's label counts where the number
// has that type's length ("NHS number: 863 644 3743", ten digits, fails mod 11); a label of a
// reference or a product ("SKU 354-972-9824") only right before the value.
const OTHER_TYPES: readonly (readonly [EntityType, readonly number[]])[] = [
  ["us_ssn", [9]],
  ["us_itin", [9]],
  ["us_passport", [9]],
  ["uk_nhs", [10]],
  ["au_tfn", [8, 9]],
  ["au_abn", [11]],
  ["au_medicare", [10, 11]],
  ["in_aadhaar", [12]],
];
// Words that name a person's number as readily ("customer 0612345678") need "no", "id", ...
const REFERENCE_LABEL = new RegExp(
  String.raw`(?:^|[^a-z])(?:(?:sku|part|order|invoice|ticket|case|ref|reference|serial|item|` +
    String.raw`tracking|barcode|ean|upc|gtin|isbn|batch|lot|model|product|article|total|` +
    String.raw`amount|sum|balance|price|referenz|vorgang|rechnung|bestellung|auftrag|artikel|` +
    String.raw`commande|facture|pedido|factura|ordine|fattura)` +
    String.raw`\.?(?:\s*(?:no|nr|num|number|id|code|#)\.?)?|(?:account|acct|customer|member|` +
    String.raw`policy|claim|transaction|txn)\.?\s*(?:no|nr|num|number|id|#)\.?)\s*[:#=]?\s*$`,
);

/** Whether the number at `start` carries another type's label rather than a phone's. */
function labeledAsOther(text: string, start: number, digits: number): boolean {
  if (REFERENCE_LABEL.test(text.slice(Math.max(0, start - 24), start).toLowerCase())) return true;
  for (const [type, lengths] of OTHER_TYPES) {
    if (lengths.includes(digits) && hasContext(text, start, start, type)) return true;
  }
  return false;
}

/**
 * Whether `read`, a reading at `start`, is the scanner's phone `known` followed only by groups of
 * digits after spaces.
 */
function endsAfterKnownPhone(read: string, start: number, known: Detection | undefined): boolean {
  if (known?.type !== "phone" || known.start !== start || known.end >= start + read.length) {
    return false;
  }
  return /^(?: \d{1,4})+$/.test(read.slice(known.end - start));
}

/**
 * Whether the metadata takes all of `candidate` as one number: an international or a North
 * American one as {@linkcode confidenceOf} judges them, or a valid national number of one of the
 * {@linkcode PHONE_REGIONS} written as that region writes it, its digits those of its national
 * format. The last keeps out the readings the parser allows but no one writes: a region's
 * international prefix read into the number (Singapore dials out with "020", so "020 7946 0958
 * 100" would be a Russian number) and a national number without its trunk 0 (Germany would take
 * "415 555 2671 100" as 04155 5526 71100). It parses the number once a region, so it is asked
 * only where the scanner's layout and a longer reading disagree.
 */
function metadataTakesWhole(candidate: string, budget: PhoneBudget): boolean {
  if (confidenceOf(candidate, false, budget) > 0) return true;
  // Only a national number with its trunk 0 is read whole by a region's national format here.
  if (!/^\(?0/.test(candidate)) return false;
  // Past the budget the group is read in: a count redacted with a number loses nothing.
  if (budget.parses < PHONE_REGIONS.length) return true;
  const digits = candidate.replace(/\D/g, "");
  return PHONE_REGIONS.some((region) => {
    budget.parses--;
    const parsed = parsePhoneNumberFromString(candidate, { defaultCountry: region });
    return parsed?.isValid() === true && parsed.format("NATIONAL").replace(/\D/g, "") === digits;
  });
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
export function findPhones(
  text: string,
  known: readonly Detection[] = [],
  budget: PhoneBudget = phoneBudget(),
): Detection[] {
  const found: Detection[] = [];
  let k = 0;
  // Whether a span the scanner already reported (a card, an IBAN, a phone) holds [start, end).
  const isKnown = (start: number, end: number) => {
    while (k < known.length && known[k].end <= start) k++;
    return k < known.length && known[k].start <= start && known[k].end >= end;
  };
  for (const match of text.matchAll(CANDIDATE)) {
    const read = match[0].replace(TRAILING_DATE, "");
    const start = match.index;
    // Up to four digits past the longest number may be a trailing group, dropped below.
    const readDigits = read.replace(/\D/g, "").length;
    if (readDigits < 7 || readDigits > 25) continue;
    // A known span needs no second look, unless this reading is longer (an extension the
    // scanner stopped before).
    if (isKnown(start, start + read.length)) continue;
    // Groups of digits after a space that the scanner's layout left out ("phone 020 7946 0958
    // 100 times") belong to the number only where the metadata says so ("011 44 20 7946 0958",
    // "Tel. 030 1234 5678 9", a German number): a context word cannot lift them into it.
    if (endsAfterKnownPhone(read, start, known[k]) && !metadataTakesWhole(read, budget)) continue;
    // A last group that only a longer, invalid number would hold is left to the words after
    // it: "415 555-2671 100 times".
    const candidate = read.slice(0, withoutTrailingDigits(read));
    const end = start + candidate.length;
    if (candidate !== read && isKnown(start, end)) continue;
    const digits = candidate.replace(/\D/g, "").length;
    if (digits < 7 || digits > 21 || DATE_LIKE.test(candidate)) continue;
    const context = hasContext(text, start, end, "phone");
    if (!context && labeledAsOther(text, start, digits)) continue;
    const confidence = candidateConfidence(candidate, digits, context, budget);
    if (confidence === 0) continue;
    found.push({ type: "phone", start, end, confidence });
  }
  return found;
}
