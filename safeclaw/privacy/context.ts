/**
 * Context words (Presidio's idea): a weak match near a word such as "phone" or "IBAN" is lifted
 * above the reporting threshold; with no such word it stays below.
 */
import type { EntityType } from "./entities.ts";

/** Words that, near a match, make the match's type likely. Lowercase; several languages. */
export const CONTEXT_WORDS: Partial<Record<EntityType, readonly string[]>> = {
  phone: [
    "phone",
    "tel",
    "call",
    "mobile",
    "cell",
    "fax",
    "whatsapp",
    "sms",
    "text me",
    "reach me",
    "telefon",
    "handy",
    "ruf",
    "téléphone",
    "portable",
    "appel",
    "teléfono",
    "móvil",
    "llámame",
    "telefono",
    "cellulare",
    "电话",
    "手机",
    "電話",
    "dial",
    "extension",
    "ext",
  ],
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
  in_aadhaar: ["aadhaar", "aadhar", "uidai", "uid"],
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
    "date of birth",
    "geboren",
    "geburtsdatum",
    "né le",
    "née le",
    "date de naissance",
    "nacido",
    "fecha de nacimiento",
    "nato il",
    "出生",
    "生日",
  ],
};

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
  const pattern = contextPattern(type);
  if (!pattern) return false;
  const after = text.slice(end, end + CONTEXT_AFTER);
  // After the value only a bracketed note counts ("555 0123 (mobile)"): a label that follows
  // a value belongs to the next value.
  const window = contextBefore(text, start) + " " + (/^\s*\(/.test(after) ? after : "");
  return pattern.test(window.toLowerCase());
}

const PATTERNS = new Map<EntityType, RegExp | null>();

/**
 * One case-insensitive pattern per type: each word at a word start; words of five letters or
 * more also as the head of a compound ("Telefonnummer", "phonenumber").
 */
function contextPattern(type: EntityType): RegExp | null {
  let pattern = PATTERNS.get(type);
  if (pattern !== undefined) return pattern;
  const words = CONTEXT_WORDS[type];
  if (!words) {
    PATTERNS.set(type, null);
    return null;
  }
  const escape = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const cjk = words.filter((w) => /[\u3000-\u9fff]/.test(w)).map(escape);
  const long = words.filter((w) => !/[\u3000-\u9fff]/.test(w) && w.length >= 5).map(escape);
  const short = words.filter((w) => !/[\u3000-\u9fff]/.test(w) && w.length < 5).map(escape);
  // The window is lowercased first, so the pattern needs neither the i nor the u flag: ASCII
  // look-arounds are what keep it fast at every position.
  const parts: string[] = [];
  if (long.length) parts.push(`(?<![a-z0-9\u00c0-\u024f])(?:${long.join("|")})`);
  if (short.length) {
    parts.push(`(?<![a-z0-9\u00c0-\u024f])(?:${short.join("|")})(?![a-z0-9\u00c0-\u024f])`);
  }
  if (cjk.length) parts.push(`(?:${cjk.join("|")})`);
  pattern = new RegExp(parts.join("|"));
  PATTERNS.set(type, pattern);
  return pattern;
}
