/**
 * Context words (Presidio's idea): a weak match near a word such as "phone" or "IBAN" is lifted
 * above the reporting threshold; with no such word it stays below.
 */
import type { EntityType } from "./entities.ts";

/** Words that, near a match, make the match's type likely. Lowercase; several languages. */
export const CONTEXT_WORDS: Partial<Record<EntityType, readonly string[]>> = {
  phone: [
    "phone",
    "telephone",
    "cellphone",
    "tel",
    "mobile",
    "fax",
    "whatsapp",
    "sms",
    "telefon",
    "rufnummer",
    "téléphone",
    "tél",
    "teléfono",
    "móvil",
    "llámame",
    "telefono",
    "cellulare",
    "telefone",
    "telemóvel",
    "celular",
    "telefoon",
    "mobiel",
    "mobil",
    "puhelin",
    "matkapuhelin",
    "telepon",
    "телефон",
    "мобильный",
    "फ़ोन",
    "फ़ोन",
    "फोन",
    "मोबाइल",
    "전화",
    "휴대폰",
    "电话",
    "手机",
    "電話",
    "携帯",
    // Arabic (phone, mobile) and Persian (phone, mobile): no letter of these scripts ends a
    // word for the patterns, so "الهاتف" and "هاتفي" hold "هاتف".
    "هاتف",
    "جوال",
    "موبايل",
    "تلفن",
    "موبایل",
  ],
  // The scanner decides a card printed over two lines by its own card words
  // (wasm/assembly/pii/numbers.ts), every word here among them: a test holds them together.
  credit_card: [
    "card",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "karte",
    "carte",
    "tarjeta",
    "卡号",
    // Arabic (card, credit) and Persian (card).
    "بطاقة",
    "ائتمان",
    "کارت",
  ],
  iban: ["iban", "account", "bank", "konto", "compte", "cuenta", "账号"],
  us_ssn: ["ssn", "social security"],
  us_itin: ["itin", "taxpayer", "tax id", "individual taxpayer"],
  us_passport: ["passport", "passport no", "passport number", "pasaporte", "reisepass", "护照"],
  uk_nhs: ["nhs", "health service", "patient", "nhs number"],
  uk_nino: ["national insurance", "nino", "ni number"],
  es_nif: ["nif", "dni", "documento", "identidad"],
  es_nie: ["nie", "extranjero"],
  it_fiscal_code: ["codice fiscale", "fiscal code", "cf"],
  // Not "uid": a Unix or database user id is a twelve-digit number as often as not, and one
  // in ten passes Verhoeff.
  in_aadhaar: ["aadhaar", "aadhar", "uidai"],
  in_pan: ["pan", "permanent account", "income tax"],
  au_tfn: ["tfn", "tax file"],
  au_abn: ["abn", "business number"],
  au_medicare: ["medicare"],
  sg_nric: ["nric", "fin", "identity card"],
  pl_pesel: ["pesel", "numer"],
  crypto_wallet: ["wallet", "bitcoin", "btc", "address", "crypto", "ethereum", "eth"],
  mac_address: ["mac", "hardware address", "ethernet", "wifi"],
  date_of_birth: [
    "born",
    "birth",
    "dob",
    "d.o.b",
    "birthday",
    "birthdate",
    "date of birth",
    "geboren",
    "geburtsdatum",
    "né le",
    "née le",
    "date de naissance",
    "nacido",
    "fecha de nacimiento",
    "nato il",
    "nata il",
    "data di nascita",
    "data urodzenia",
    "urodzony",
    "urodzona",
    "geboortedatum",
    "geboren op",
    "data de nascimento",
    "nascido em",
    "nascida em",
    "födelsedatum",
    "född",
    "fødselsdato",
    "født",
    "syntymäaika",
    "doğum tarihi",
    "дата рождения",
    "родился",
    "родилась",
    "tanggal lahir",
    "出生",
    "生日",
    "生年月日",
    "誕生日",
    "생년월일",
  ],
};

/**
 * Words that also mean something else ("a handy trick", "the call returned 1234 5678 rows",
 * "Portable build 2023 0915", "Extension point"): they count only as the value's label, right
 * before it or with at most two words and a linking word between ("call me at", "Ruf mich an
 * unter", "my cell is"), or in a bracketed note after it ("555 0123 (cell)").
 */
export const LABEL_WORDS: Partial<Record<EntityType, readonly string[]>> = {
  phone: [
    "call",
    "contact",
    "cell",
    "text me",
    "reach me",
    "dial",
    "ext",
    "extension",
    "handy",
    "ruf",
    "portable",
    "appel",
  ],
};

// Whom a label word may take as its object: "call me maybe 555 1234", "call us today at".
const PRONOUNS = ["me", "us", "him", "her", "them", "mich", "uns", "moi", "nous"];

// What may link a label word to its value: pronouns, prepositions, "is" and "number".
const LINKS = [
  ...PRONOUNS,
  "at",
  "on",
  "via",
  "to",
  "is",
  "was",
  "number",
  "no",
  "nr",
  "num",
  "nummer",
  "unter",
  "an",
  "ist",
  "au",
  "à",
  "est",
  "al",
  "es",
  "en",
];

// German builds compounds freely ("Telefonnummer", "Kontoinhaber", "Reisepassnummer"): these
// words also match as the head of a longer word. Every other word must end where it ends, so
// "numer" does not read "numeric" nor "appel" "appellate".
const COMPOUND_HEADS: ReadonlySet<string> = new Set([
  "telefon",
  "konto",
  "karte",
  "reisepass",
  "bank",
]);

/** How far before and after a match a context word counts, in UTF-16 code units. */
export const CONTEXT_BEFORE = 48;
export const CONTEXT_AFTER = 12;

// A label belongs to the value right after it: the look-behind stops at a line or sentence end
// and at another value (a run of four digits), so "phone: +1 202 555 0173, ref 9763739391" does
// not lift the reference number.
const CONTEXT_STOP = /[\n。；;!?]|\.\s+(?=\p{Lu})|\d(?:[ .()-]?\d){3,}/gu;

function contextBefore(text: string, start: number): string {
  const before = text.slice(Math.max(0, start - CONTEXT_BEFORE), start);
  let cut = 0;
  for (const m of before.matchAll(CONTEXT_STOP)) cut = m.index + m[0].length;
  return before.slice(cut);
}

/**
 * Whether a context word for `type` appears as a whole word near `text[start, end)`.
 *
 * @example
 * ```ts
 * import { hasContext } from "./context.ts";
 * console.log(hasContext("call me on 555 0123", 11, 19, "phone")); // true
 * ```
 */
export function hasContext(text: string, start: number, end: number, type: EntityType): boolean {
  const patterns = contextPatterns(type);
  if (!patterns) return false;
  const before = contextBefore(text, start).toLowerCase();
  if (patterns.near?.test(before) || patterns.label?.test(before)) return true;
  // After the value only a bracketed note counts ("555 0123 (mobile)"): a label that follows
  // a value belongs to the next value.
  const after = text.slice(end, end + CONTEXT_AFTER);
  return /^\s*\(/.test(after) && patterns.note.test(after.toLowerCase());
}

interface ContextPatterns {
  /** A context word anywhere in the look-behind. */
  near: RegExp | null;
  /** A label word that ends the look-behind, up to a linking word. */
  label: RegExp | null;
  /** Any of the type's words, for a bracketed note after the value. */
  note: RegExp;
}

const PATTERNS = new Map<EntityType, ContextPatterns | null>();

// Letters and digits of the scripts the words are in: a word boundary is anything else. The
// window is lowercased first, so the patterns need neither the i nor the u flag: ASCII and
// Latin-1 look-arounds are what keep them fast at every position.
const ALNUM = "a-z0-9\u00c0-\u024f";
const CJK = /[\u3000-\u9fff]/;

const escape = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * One pattern per word list. A CJK word matches anywhere; any other word at a word start and
 * to a word end, where a word of five letters or more may also take a plural or a number
 * suffix ("phones", "phoneNumber", "Handynummer") and a German compound head any ending.
 */
function wordsPattern(words: readonly string[]): string {
  const parts: string[] = [];
  const cjk = words.filter((w) => CJK.test(w)).map(escape);
  const heads = words.filter((w) => COMPOUND_HEADS.has(w)).map(escape);
  const long = words.filter((w) => !CJK.test(w) && !COMPOUND_HEADS.has(w) && w.length >= 5)
    .map(escape);
  const short = words.filter((w) => !CJK.test(w) && w.length < 5).map(escape);
  if (heads.length) parts.push(`(?<![${ALNUM}])(?:${heads.join("|")})`);
  if (long.length) {
    parts.push(
      `(?<![${ALNUM}])(?:${long.join("|")})(?:e?s)?(?:number|nummer|num|no|nr)?(?![${ALNUM}])`,
    );
  }
  if (short.length) parts.push(`(?<![${ALNUM}])(?:${short.join("|")})(?![${ALNUM}])`);
  if (cjk.length) parts.push(`(?:${cjk.join("|")})`);
  return parts.join("|");
}

function contextPatterns(type: EntityType): ContextPatterns | null {
  let patterns = PATTERNS.get(type);
  if (patterns !== undefined) return patterns;
  const words = CONTEXT_WORDS[type] ?? [];
  const labels = LABEL_WORDS[type] ?? [];
  if (!words.length && !labels.length) {
    PATTERNS.set(type, null);
    return null;
  }
  const gap = `[^${ALNUM}\u3000-\u9fff]+`;
  const word = `[a-z\u00c0-\u024f]+`;
  const link = `(?:${LINKS.map(escape).join("|")})`;
  const pronoun = `(?:${PRONOUNS.join("|")})`;
  patterns = {
    near: words.length ? new RegExp(wordsPattern(words)) : null,
    // The label; then up to two words and a linking word ("call Bob on", "Ruf mich an unter"),
    // or a pronoun and one word ("call me maybe"); then only punctuation and spaces.
    label: labels.length
      ? new RegExp(
        `(?:${wordsPattern(labels)})(?:${gap}(?:(?:${word}${gap}){0,2}${link}|` +
          `${pronoun}${gap}${word}(?:${gap}${link})?))?(?:${gap})?$`,
      )
      : null,
    note: new RegExp(wordsPattern([...words, ...labels])),
  };
  PATTERNS.set(type, patterns);
  return patterns;
}
