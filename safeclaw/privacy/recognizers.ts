/**
 * Pattern recognizers for the entities with a strict format or a checksum (Presidio's list).
 * A checksum that few random strings pass gives a certain match; a weak one (a mod-11 that one
 * number in eleven passes, a bare format) stays below the threshold unless a context word is near.
 */
import {
  abnValid,
  base58CheckValid,
  bech32Valid,
  italianFiscalCodeValid,
  luhnValid,
  medicareValid,
  nhsValid,
  nifValid,
  nricValid,
  peselValid,
  tfnValid,
  verhoeffValid,
} from "./checksums.ts";
import { cardScheme } from "./cards.ts";
import { ibanValid } from "./iban.ts";
import type { EntityType } from "./entities.ts";

/** One regular-expression recognizer. */
export interface Recognizer {
  type: EntityType;
  /** A global pattern; the whole match is the value. */
  pattern: RegExp;
  /** Rejects matches that fail the type's checksum or rules. */
  validate?(value: string): boolean;
  /** Confidence of a valid match with no context word near. */
  confidence: number | ((value: string) => number);
  /** Confidence when a context word is near (default: `confidence`). */
  contextConfidence?: number;
}

/** Below this, a match is not reported by default. */
export const DEFAULT_THRESHOLD = 0.5;

/** A weak match: reported only with a context word near. */
const WEAK = 0.35;
/** A weak match lifted by a context word. */
const LIFTED = 0.9;

// Boundaries are ASCII: a value may touch CJK text ("号是4111..."), and ASCII classes keep
// the look-arounds cheap at every position.
const B = String.raw`(?<![A-Za-z0-9_])`;
const E = String.raw`(?![A-Za-z0-9_])`;
const re = (body: string, flags = "g") => new RegExp(`${B}(?:${body})${E}`, flags);
// Numbers are not cut out of a longer grouped number ("AT21 7067 1152 7472 7141", an ISBN).
const NB = String.raw`(?<![A-Za-z0-9_#]|[0-9][ .-]|\b[A-Z0-9]{4} |ISBN[ :]?)`;
// Nor do they end before more digits of the same run, unless those are a date or a time of
// their own ("4111 1111 1111 1111 12/27", "536-22-1234 05/12/1980", "... 2024-05-01"); a
// number that runs on through / or : is a date or a time itself.
// Only date and time shapes: "6363/123" after "/api/4595 8574 8631" is the rest of a path.
const DATE_OR_TIME = String.raw`\d{1,2}[/:]\d{1,2}(?:[/:]\d{2,4})?(?![0-9])|` +
  String.raw`\d{1,2}/\d{4}(?![0-9])|\d{4}[/-]\d{1,2}[/-]\d{1,2}(?![0-9])|` +
  String.raw`\d{1,2}\.\d{1,2}\.\d{2,4}(?![0-9])`;
const NE = String.raw`(?![A-Za-z0-9_]|[.\-/:][0-9]| (?!${DATE_OR_TIME})[0-9])`;
const num = (body: string) => new RegExp(`${NB}(?:${body})${NE}`, "g");

const grouped = (value: string) => /[ -]/.test(value);
const digitsOnly = (value: string) => value.replace(/\D/g, "");
const isCardNumber = (digits: string) =>
  digits.length >= 12 && digits.length <= 19 && cardScheme(digits) !== undefined &&
  luhnValid(digits);

// A card followed directly by its expiry, its CVV or a port ("4111111111111111/12/27",
// "4111 1111 1111 1111:123", "4111111111111111-123"), where `num` refuses to end. It starts only
// where the scanner's numbers start, so a number inside a path or a code stays unread
// ("/api/4111111111111111/123"). It ends before "/" or ":" and a digit, unless its last group is
// one or two digits after a space that begin a date or a time (`num` reads
// "4111 1111 1111 1111 12/27" without them), or before a hyphen and a last group of one to four
// digits (one to three after a card's blocks set off by hyphens: "4111-1111-1111-1111-1234" is
// one number).
const TOKEN_START = String.raw`(?<![A-Za-z0-9][.,/-])`;
const STARTS_DATE = String.raw`(?<= \d{1,2})(?:[/:]\d{1,2}|/\d{4})(?![0-9])`;
const HYPHEN_TAIL = (digits: string) => String.raw`(?=-\d{${digits}}(?![A-Za-z0-9_]|[ .-][0-9]))`;
const CARD_BEFORE_TAIL = new RegExp(
  `${NB}${TOKEN_START}(?:` +
    String.raw`(?:\d{12,19}|\d{4}(?:[ -]?\d{2,6}){1,4}|\d{4}(?:([ -])\d{4}){2,3}\1\d{1,3})` +
    String.raw`(?=[/:][0-9])(?!${STARTS_DATE})|` +
    String.raw`(?:\d{12,19}|\d{4}(?: ?\d{2,6}){1,4}|\d{4}(?: \d{4}){2,3} \d{1,3})` +
    `${HYPHEN_TAIL("1,4")}|` +
    String.raw`(?:\d{4}(?:-\d{4}){1,3}-\d{1,4}|\d{4}-\d{6}-\d{4,5})${HYPHEN_TAIL("1,3")})`,
  "g",
);

// A card's confidence with no context word near: twelve or thirteen digits (short Maestro),
// grouped or not, are too common in references and account numbers to be sure.
const cardConfidence = (v: string) => (digitsOnly(v).length < 14 ? WEAK : 0.95);

const MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" +
  "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

/** The recognizers, applied in this order; overlaps are settled later by confidence. */
export const RECOGNIZERS: readonly Recognizer[] = [
  {
    type: "credit_card",
    // Four blocks of four may end in a block of one to three (17-19-digit UnionPay, Maestro).
    pattern: num(String.raw`\d{4}(?:[ -]?\d{2,6}){1,4}|\d{4}(?:([ -])\d{4}){3}\1\d{1,3}|\d{12,19}`),
    validate: (v) => isCardNumber(digitsOnly(v)),
    confidence: cardConfidence,
    contextConfidence: 0.95,
  },
  {
    type: "credit_card",
    pattern: CARD_BEFORE_TAIL,
    validate: (v) => isCardNumber(digitsOnly(v)),
    confidence: cardConfidence,
    contextConfidence: 0.95,
  },
  {
    type: "us_itin",
    pattern: num(String.raw`9\d{2}([- ]?)(?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])\1\d{4}`),
    // SSN look-alikes in the 9xx area are valid ITIN formats, so a context word must decide.
    confidence: WEAK,
    contextConfidence: LIFTED,
  },
  {
    type: "us_passport",
    // Nine digits, or a letter and eight (the Next Generation passport, issued since 2021).
    pattern: re(String.raw`[A-Z]\d{8}|\d{9}`),
    confidence: 0.1,
    contextConfidence: 0.7,
  },
  {
    type: "uk_nhs",
    pattern: num(String.raw`\d{3}([- ]?)\d{3}\1\d{4}`),
    validate: nhsValid,
    confidence: WEAK,
    contextConfidence: LIFTED,
  },
  {
    type: "uk_nino",
    pattern: re(
      String
        .raw`(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]`,
    ),
    confidence: 0.85,
  },
  { type: "es_nif", pattern: re(String.raw`\d{8}-?[A-Z]`), validate: nifValid, confidence: 0.95 },
  {
    type: "es_nie",
    pattern: re(String.raw`[XYZ]-?\d{7}-?[A-Z]`),
    validate: nifValid,
    confidence: 0.95,
  },
  {
    type: "it_fiscal_code",
    pattern: re(
      String
        .raw`[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`,
      "g",
    ),
    validate: italianFiscalCodeValid,
    confidence: 0.95,
  },
  {
    type: "in_aadhaar",
    pattern: num(String.raw`[2-9]\d{3}([ -]?)\d{4}\1\d{4}`),
    validate: verhoeffValid,
    // A grouped number that is also a valid card (a twelve-digit Maestro) reads as either:
    // a label must say which.
    confidence: (v) => (grouped(v) && !isCardNumber(digitsOnly(v)) ? 0.7 : WEAK),
    // Above a Luhn-valid Maestro reading of the same twelve digits.
    contextConfidence: 0.97,
  },
  {
    type: "in_pan",
    pattern: re(String.raw`[A-Z]{3}[ABCFGHLJPT][A-Z]\d{4}[A-Z]`),
    confidence: 0.75,
    contextConfidence: 0.95,
  },
  {
    type: "au_tfn",
    pattern: num(String.raw`\d{3}([ -]?)\d{3}\1\d{3}`),
    validate: tfnValid,
    confidence: WEAK,
    contextConfidence: LIFTED,
  },
  {
    type: "au_abn",
    pattern: num(String.raw`\d{2}([ ]?)\d{3}\1\d{3}\1\d{3}`),
    validate: abnValid,
    confidence: (v) => (grouped(v) ? 0.6 : WEAK),
    contextConfidence: 0.95,
  },
  {
    type: "au_medicare",
    pattern: num(String.raw`[2-6]\d{3}([ ]?)\d{5}\1\d(?:[ /-]?\d)?`),
    validate: medicareValid,
    confidence: WEAK,
    contextConfidence: LIFTED,
  },
  {
    type: "sg_nric",
    pattern: re(String.raw`[STFGM]\d{7}[A-Z]`),
    validate: nricValid,
    confidence: 0.95,
  },
  {
    type: "pl_pesel",
    pattern: num(String.raw`\d{11}`),
    validate: peselValid,
    confidence: WEAK,
    contextConfidence: 0.95,
  },
  {
    type: "crypto_wallet",
    pattern: re(String.raw`[13][1-9A-HJ-NP-Za-km-z]{25,34}`),
    // A valid checksum is certain; the format alone (generators skip the checksum) needs a
    // context word such as "wallet".
    confidence: (v) => (base58CheckValid(v) ? 0.99 : WEAK),
    contextConfidence: LIFTED,
  },
  {
    type: "crypto_wallet",
    pattern: re(String.raw`(?:bc|tb|ltc)1[02-9ac-hj-np-z]{6,87}`, "gi"),
    confidence: (v) => (bech32Valid(v) ? 0.99 : WEAK),
    contextConfidence: LIFTED,
  },
  { type: "crypto_wallet", pattern: re(String.raw`0x[0-9a-fA-F]{40}`), confidence: 0.8 },
  {
    type: "iban",
    // Lower case, or groups with dashes: the forms the scanner leaves. Ungrouped lower case
    // could be a hex digest that happens to check out, so a context word must decide it.
    pattern: re(
      String
        .raw`[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?:[ -][A-Za-z0-9]{4}){2,7}(?:[ -][A-Za-z0-9]{1,3})?)`,
    ),
    validate: ibanValid,
    confidence: (v) => (/[ -]/.test(v) ? 0.9 : WEAK),
    contextConfidence: 0.95,
  },
  {
    type: "mac_address",
    pattern: re(String.raw`[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}`),
    // Six hex pairs are also key fingerprints and reference codes: a context word decides.
    confidence: WEAK,
    contextConfidence: LIFTED,
  },
  {
    type: "mac_address",
    pattern: re(String.raw`[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}`),
    confidence: WEAK,
    contextConfidence: LIFTED,
  },
  {
    type: "url",
    pattern:
      /\b(?:https?|ftp):\/\/[^\s<>"'`]+|(?<![\w@.])www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>"'`]*/gi,
    confidence: 0.6,
  },
  {
    type: "date_of_birth",
    pattern: re(
      String
        .raw`(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}|(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}|` +
        String.raw`\d{1,2}(?:st|nd|rd|th)? (?:${MONTHS})\.?,? (?:19|20)\d{2}|` +
        String.raw`(?:${MONTHS})\.? \d{1,2}(?:st|nd|rd|th)?,? (?:19|20)\d{2}|` +
        String.raw`(?:19|20)\d{2}年\d{1,2}月\d{1,2}日)`,
      "gi",
    ),
    validate: plausibleDate,
    confidence: 0.2,
    contextConfidence: 0.85,
  },
];

/** Rejects numeric dates with an impossible month or day. */
function plausibleDate(value: string): boolean {
  const parts = value.match(/\d+/g)?.map(Number) ?? [];
  if (parts.length < 3 || /[a-z]/i.test(value)) return true;
  const [a, b, c] = parts;
  const [day, month] = a > 31 ? [c, b] : a > 12 ? [a, b] : b > 12 ? [b, a] : [a, b];
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/** Trailing punctuation that ends a sentence rather than a URL. */
export function trimUrl(value: string): string {
  let v = value.replace(/[.,;:!?]+$/, "");
  // A closing bracket belongs to the URL only when the URL opened one.
  while (/[)\]]$/.test(v) && (v.match(/[([]/g)?.length ?? 0) < (v.match(/[)\]]/g)?.length ?? 0)) {
    v = v.slice(0, -1);
  }
  return v;
}
