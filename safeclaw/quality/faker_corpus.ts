/**
 * A second, independent labeled corpus: values from Faker in 22 locales (phones in its three
 * styles, cards of its issuers, IBANs, emails, IPs, MACs, URLs, wallets, birth dates), national
 * IDs built from their published check-digit rules, and Faker's non-PII strings (ISBNs, UUIDs,
 * commit hashes, versions, amounts, account and zip codes) as look-alikes.
 */
import { allFakers, type Faker } from "@faker-js/faker";
import type { EntityType } from "../privacy/entities.ts";
import { verhoeffCheckDigit } from "../privacy/checksums.ts";
import type { LabeledRecord } from "./generator.ts";
import { Random } from "./random.ts";
import { luhnCheckDigit } from "./checksums.ts";

/** The locales the corpus draws from, with the language of their sentences. */
const LOCALES: readonly [string, Language][] = [
  ["en_US", "en"],
  ["en_GB", "en"],
  ["en_AU", "en"],
  ["en_IN", "en"],
  ["en_CA", "en"],
  ["de", "de"],
  ["de_AT", "de"],
  ["de_CH", "de"],
  ["fr", "fr"],
  ["fr_BE", "fr"],
  ["es", "es"],
  ["es_MX", "es"],
  ["it", "it"],
  ["nl", "en"],
  ["pl", "en"],
  ["pt_BR", "en"],
  ["sv", "en"],
  ["cs_CZ", "en"],
  ["tr", "en"],
  ["ja", "en"],
  ["ko", "en"],
  ["zh_CN", "zh"],
];

type Language = "en" | "de" | "fr" | "es" | "it" | "zh";

const PHONE_LABEL: Record<Language, string[]> = {
  en: ["Phone:", "Call me on", "Mobile", "Tel."],
  de: ["Telefon:", "Ruf mich an unter", "Handy:"],
  fr: ["Téléphone :", "Portable :", "Tél."],
  es: ["Teléfono:", "Móvil:", "Llámame al"],
  it: ["Telefono:", "Cellulare:"],
  zh: ["电话：", "手机："],
};

const SENTENCES: Record<Language, string[]> = {
  en: ["{label} {value}", "Please update my record — {label} {value}.", "{label} {value}, thanks!"],
  de: ["{label} {value}", "Bitte aktualisieren: {label} {value}."],
  fr: ["{label} {value}", "Merci de mettre à jour : {label} {value}."],
  es: ["{label} {value}", "Por favor actualice: {label} {value}."],
  it: ["{label} {value}", "Per favore aggiornare: {label} {value}."],
  zh: ["{label}{value}", "请更新：{label}{value}。"],
};

/** Labels for the types whose sentences are the same in every locale. */
const LABELS: Partial<Record<EntityType, string[]>> = {
  credit_card: ["Card number:", "Paid with card", "Visa/MC:"],
  iban: ["IBAN:", "Bank account (IBAN)"],
  email: ["Email:", "Write to"],
  ip_address: ["Client IP", "from address"],
  mac_address: ["MAC address", "device MAC:"],
  url: ["Profile:", "See"],
  crypto_wallet: ["BTC wallet:", "send to address"],
  date_of_birth: ["Date of birth:", "DOB", "born on"],
  in_aadhaar: ["Aadhaar:", "Aadhaar no."],
  uk_nhs: ["NHS number:", "NHS no"],
  pl_pesel: ["PESEL:", "PESEL"],
  es_nif: ["DNI:", "NIF"],
  au_abn: ["ABN:", "ABN"],
  au_tfn: ["TFN:", "Tax file number"],
  sg_nric: ["NRIC:", "NRIC"],
  uk_nino: ["National Insurance number:", "NINO"],
};

type Value = [EntityType, string];

function group(digits: string, sizes: readonly number[], sep: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= digits.length) break;
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  if (at < digits.length) parts.push(digits.slice(at));
  return parts.join(sep);
}

/** Schemes Faker does not issue, built from their published prefixes with a Luhn digit. */
const EXTRA_SCHEMES: readonly [string, number][] = [
  ["5018", 12],
  ["6304", 19],
  ["6759", 16],
  ["62", 16],
  ["62", 19],
  ["2200", 16],
  ["2204", 16],
  ["2131", 15],
  ["1800", 15],
  ["3589", 16],
  ["36", 14],
];
const FAKER_ISSUERS = ["visa", "mastercard", "american_express", "discover", "diners_club", "jcb"];

function card(f: Faker, r: Random): string {
  if (r.next() < 0.5) {
    const raw = f.finance.creditCardNumber({ issuer: r.pick(FAKER_ISSUERS) });
    return r.next() < 0.5 ? raw : raw.replace(/\D/g, "");
  }
  const [prefix, length] = r.pick(EXTRA_SCHEMES);
  const payload = prefix + r.digits(length - prefix.length - 1);
  const digits = payload + luhnCheckDigit(payload);
  return r.pick([digits, group(digits, [4, 4, 4, 4, 4], " "), group(digits, [4, 4, 4, 4], "-")]);
}

function aadhaar(r: Random): string {
  const payload = String(r.int(2, 9)) + r.digits(10);
  return group(payload + verhoeffCheckDigit(payload), [4, 4, 4], r.pick([" ", "", "-"]));
}

function nhs(r: Random): string {
  while (true) {
    const d = r.digits(9);
    let sum = 0;
    for (let i = 0; i < 9; i++) sum += Number(d[i]) * (10 - i);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    return group(d + (check === 11 ? 0 : check), [3, 3, 4], r.pick([" ", "", "-"]));
  }
}

function pesel(r: Random): string {
  const yy = r.digits(2);
  const mm = String(r.int(1, 12) + r.pick([0, 20])).padStart(2, "0");
  const dd = String(r.int(1, 28)).padStart(2, "0");
  const body = yy + mm + dd + r.digits(4);
  const w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += Number(body[i]) * w[i];
  return body + ((10 - (sum % 10)) % 10);
}

function nif(r: Random): string {
  const n = r.digits(8);
  return n + "TRWAGMYFPDXBNJZSQVHLCKE"[Number(n) % 23];
}

function abn(r: Random): string {
  while (true) {
    const d = String(r.int(1, 9)) + r.digits(10);
    const w = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let sum = 0;
    for (let i = 0; i < 11; i++) sum += (Number(d[i]) - (i === 0 ? 1 : 0)) * w[i];
    if (sum % 89 === 0) return group(d, [2, 3, 3, 3], " ");
  }
}

function tfn(r: Random): string {
  while (true) {
    const d = r.digits(9);
    const w = [1, 4, 3, 7, 5, 8, 6, 9, 10];
    let sum = 0;
    for (let i = 0; i < 9; i++) sum += Number(d[i]) * w[i];
    if (sum % 11 === 0) return group(d, [3, 3, 3], " ");
  }
}

function nric(r: Random): string {
  const d = r.digits(7);
  const w = [2, 7, 6, 5, 4, 3, 2];
  let sum = 0;
  for (let i = 0; i < 7; i++) sum += Number(d[i]) * w[i];
  return "S" + d + "JZIHGFEDCBA"[sum % 11];
}

function nino(r: Random): string {
  const first = r.pick([..."ABCEGHJKLMNOPRSTWXYZ"]);
  const second = r.pick([..."ABCEGHJKLMNPRSTWXYZ"]);
  if (["GB", "NK", "TN", "ZZ", "BG", "KN", "NT"].includes(first + second)) return nino(r);
  return `${first}${second} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.pick([..."ABCD"])}`;
}

function birthDate(f: Faker, r: Random): string {
  const d = f.date.birthdate();
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  const pad = (n: number) => String(n).padStart(2, "0");
  return r.pick([
    `${y}-${pad(m)}-${pad(day)}`,
    `${pad(day)}/${pad(m)}/${y}`,
    `${m}/${day}/${y}`,
    `${pad(day)}.${pad(m)}.${y}`,
    d.toLocaleDateString("en-US", {
      month: "long",
      day: "numeric",
      year: "numeric",
      timeZone: "UTC",
    }),
  ]);
}

function value(f: Faker, r: Random): Value {
  const roll = r.int(0, 15);
  switch (roll) {
    case 0:
    case 1:
    case 2:
      return ["phone", f.phone.number({ style: r.pick(["human", "national", "international"]) })];
    case 3:
    case 4:
      return ["credit_card", card(f, r)];
    case 5:
      return ["iban", f.finance.iban({ formatted: r.next() < 0.5 })];
    case 6:
      return ["email", f.internet.email()];
    case 7:
      return ["ip_address", r.next() < 0.7 ? f.internet.ipv4() : f.internet.ipv6()];
    case 8:
      return ["mac_address", f.internet.mac(r.pick([":", "-"]))];
    case 9:
      return ["url", f.internet.url() + r.pick(["", "/account", "/u/" + f.internet.username()])];
    case 10:
      return ["crypto_wallet", f.finance.bitcoinAddress()];
    case 11:
      return ["date_of_birth", birthDate(f, r)];
    case 12:
      return r.pick<Value>([["in_aadhaar", aadhaar(r)], ["uk_nhs", nhs(r)]]);
    case 13:
      return r.pick<Value>([["pl_pesel", pesel(r)], ["es_nif", nif(r)], ["uk_nino", nino(r)]]);
    case 14:
      return r.pick<Value>([["au_abn", abn(r)], ["au_tfn", tfn(r)], ["sg_nric", nric(r)]]);
    default:
      return ["crypto_wallet", f.finance.ethereumAddress()];
  }
}

function lookAlike(f: Faker, r: Random): string {
  return r.pick([
    () => f.commerce.isbn(),
    () => f.string.uuid(),
    () => f.git.commitSha({ length: 7 }),
    () => f.system.semver(),
    () => f.finance.amount({ symbol: "$" }),
    () => f.finance.accountNumber(),
    () => f.location.zipCode(),
    () => f.string.numeric({ length: r.int(5, 12) }),
    () => f.date.recent().toISOString(),
    () => `#${f.string.numeric(6)}`,
    () => f.finance.pin(),
    () => f.airline.flightNumber({ addLeadingZeros: true }),
  ])();
}

const LOOK_ALIKE_SENTENCES = [
  "Order {value} shipped.",
  "See ticket {value} for details.",
  "Build {value} passed.",
  "Total: {value}",
  "ref {value}",
];

/**
 * Builds `count` records from `seed`; the same seed gives the same corpus.
 *
 * @example
 * ```ts
 * import { fakerCorpus } from "./faker_corpus.ts";
 * const [record] = fakerCorpus(1, 7);
 * console.log(record.spans.length >= 0); // true
 * ```
 */
export function fakerCorpus(count: number, seed: number): LabeledRecord[] {
  const r = new Random(seed);
  const records: LabeledRecord[] = [];
  for (let n = 0; n < count; n++) {
    const [locale, language] = LOCALES[n % LOCALES.length];
    const f = (allFakers as Record<string, Faker>)[locale];
    f.seed(seed * 100_003 + n);
    let text = "";
    const spans: LabeledRecord["spans"] = [];
    const parts = r.int(2, 4);
    for (let p = 0; p < parts; p++) {
      if (text) text += " ";
      if (r.next() < 0.6) {
        const [type, v] = value(f, r);
        const label = type === "phone" ? r.pick(PHONE_LABEL[language]) : r.pick(LABELS[type]!);
        const template = type === "phone" ? r.pick(SENTENCES[language]) : r.pick(SENTENCES.en);
        const filled = template.replace("{label}", label);
        const at = filled.indexOf("{value}");
        spans.push({ type, start: text.length + at, end: text.length + at + v.length });
        text += filled.replace("{value}", v);
      } else {
        text += r.pick(LOOK_ALIKE_SENTENCES).replace("{value}", lookAlike(f, r));
      }
    }
    records.push({ id: `faker-${seed}-${n}`, language: locale, text, spans });
  }
  return records;
}
