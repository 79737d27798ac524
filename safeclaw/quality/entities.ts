/**
 * Valid entities of every type, and look-alikes that a scanner must not report. An entity may
 * label only part of its text (a URL's credentials), so each carries its labeled span.
 */
import type { PiiType } from "@a3s/wasm/pii";
import { ALNUM, BASE64URL, HEX, LOWER, type Random, UPPER } from "./random.ts";
import { cnIdCheckChar, ibanCheckDigits, luhnCheckDigit } from "./checksums.ts";

/** Generated text with the part of it that is labeled (`start`/`end` relative to `text`). */
export interface Entity {
  type: PiiType;
  text: string;
  start: number;
  end: number;
}

function whole(type: PiiType, text: string): Entity {
  return { type, text, start: 0, end: text.length };
}

const FIRST = ["ada", "li", "maria", "jonas", "wei", "sofia", "lucas", "emma", "hiro", "noah"];
const LAST = ["lovelace", "wang", "garcia", "schmidt", "chen", "rossi", "martin", "smith", "kim"];
const DOMAINS = [
  "example.com",
  "mail.example.org",
  "corp.example.co.uk",
  "beispiel.de",
  "qq.com",
  "163.com",
  "Example.IO",
  "sub-domain.example.travel",
];

function email(r: Random): Entity {
  const first = r.pick(FIRST);
  const last = r.pick(LAST);
  const local = r.pick([
    `${first}.${last}`,
    `${first}_${last}${r.int(1, 99)}`,
    `${first}+news`,
    `${first[0]}${last}`,
    `${first.toUpperCase()}.${last}`,
    `${first}-${last}.${r.int(1980, 2005)}`,
  ]);
  return whole("email", `${local}@${r.pick(DOMAINS)}`);
}

function nanp(r: Random): [string, string, string] {
  return [`${r.int(2, 9)}${r.digits(2)}`, `${r.int(2, 9)}${r.digits(2)}`, r.digits(4)];
}

function phone(r: Random): Entity {
  const [a, e, x] = nanp(r);
  const mobile = `1${r.int(3, 9)}${r.digits(1)}`;
  const cn = [mobile, r.digits(4), r.digits(4)];
  const formats = [
    `(${a}) ${e}-${x}`,
    `${a}-${e}-${x}`,
    `${a}.${e}.${x}`,
    `+1 ${a} ${e} ${x}`,
    `+1-${a}-${e}-${x}`,
    `+1${a}${e}${x}`,
    `+44 20 ${r.digits(4)} ${r.digits(4)}`,
    `+49 30 ${r.digits(8)}`,
    `+33 ${r.int(1, 9)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
    `+86 ${cn.join(" ")}`,
    `+86-${cn.join("-")}`,
    cn.join(""),
    cn.join("-"),
    cn.join(" "),
    `0${r.int(1, 9)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
    `020 ${r.digits(4)} ${r.digits(4)}`,
    `+1 (${a}) ${e}-${x}`,
    `+81-3-${r.digits(4)}-${r.digits(4)}`,
    `+91 ${r.int(6, 9)}${r.digits(4)} ${r.digits(5)}`,
    `+49 (0)89 ${r.digits(7)}`,
    `1-${a}-${e}-${x}`,
    `010-${r.digits(8)}`,
  ];
  return whole("phone", r.pick(formats));
}

const CARD_PREFIXES: Array<[string, number]> = [
  ["4", 16],
  ["4", 16],
  ["51", 16],
  ["55", 16],
  ["2221", 16],
  ["34", 15],
  ["37", 15],
  ["6011", 16],
  ["65", 16],
  ["3528", 16],
  ["62", 16],
];

function cardDigits(r: Random, valid: boolean): string {
  const [prefix, length] = r.pick(CARD_PREFIXES);
  const payload = prefix + r.digits(length - prefix.length - 1);
  const check = luhnCheckDigit(payload);
  return payload + String(valid ? check : (check + r.int(1, 9)) % 10);
}

function formatCard(r: Random, digits: string): string {
  const sep = r.pick(["", " ", "-"]);
  if (sep === "") return digits;
  if (digits.length === 15) {
    return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)].join(sep);
  }
  return digits.match(/.{1,4}/g)!.join(sep);
}

function creditCard(r: Random): Entity {
  return whole("credit_card", formatCard(r, cardDigits(r, true)));
}

const IBAN_COUNTRIES: Array<[string, (r: Random) => string]> = [
  ["DE", (r) => r.digits(18)],
  ["GB", (r) => r.chars(UPPER, 4) + r.digits(14)],
  ["FR", (r) => r.digits(23)],
  ["ES", (r) => r.digits(20)],
  ["IT", (r) => r.chars(UPPER, 1) + r.digits(22)],
  ["NL", (r) => r.chars(UPPER, 4) + r.digits(10)],
  ["CH", (r) => r.digits(17)],
  ["BE", (r) => r.digits(12)],
  ["AT", (r) => r.digits(16)],
  ["PL", (r) => r.digits(24)],
];

function ibanText(r: Random, valid: boolean): string {
  const [country, bban] = r.pick(IBAN_COUNTRIES);
  const body = bban(r);
  const check = ibanCheckDigits(country, body);
  const wrong = ((Number(check) - 2 + r.int(1, 94)) % 97) + 2;
  const compact = country + (valid ? check : String(wrong).padStart(2, "0")) + body;
  return r.next() < 0.5 ? compact : compact.match(/.{1,4}/g)!.join(" ");
}

function iban(r: Random): Entity {
  return whole("iban", ibanText(r, true));
}

function ssnParts(r: Random): [string, string, string] {
  let area = r.int(1, 899);
  if (area === 666) area = 667;
  return [
    String(area).padStart(3, "0"),
    String(r.int(1, 99)).padStart(2, "0"),
    String(r.int(1, 9999)).padStart(4, "0"),
  ];
}

function ssn(r: Random): Entity {
  return whole("us_ssn", ssnParts(r).join(r.pick(["-", "-", " "])));
}

const PROVINCES = ["11", "31", "32", "33", "44", "51", "61", "65", "81"];

function cnIdBody(r: Random): string {
  const year = r.int(1950, 2008);
  const month = String(r.int(1, 12)).padStart(2, "0");
  const day = String(r.int(1, 28)).padStart(2, "0");
  return `${r.pick(PROVINCES)}${r.digits(4)}${year}${month}${day}${r.digits(3)}`;
}

function cnId(r: Random): Entity {
  const body = cnIdBody(r);
  return whole("cn_id", body + cnIdCheckChar(body));
}

function ipAddress(r: Random): Entity {
  if (r.next() < 0.6) {
    return whole(
      "ip_address",
      `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
    );
  }
  const groups = Array.from({ length: 8 }, () => r.chars(HEX, r.int(1, 4)).replace(/^0+(?=.)/, ""));
  const forms = [
    groups.join(":"),
    groups.join(":").toUpperCase(),
    `::ffff:${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
    `2001:db8::${groups[6]}:${groups[7]}`,
    `fe80::${groups[5]}:${groups[6]}`,
    `${groups[0]}:${groups[1]}::${groups[7]}`,
  ];
  return whole("ip_address", r.pick(forms));
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function jwt(r: Random): string {
  const header = base64url(new TextEncoder().encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = base64url(
    new TextEncoder().encode(
      JSON.stringify({ sub: r.digits(8), name: r.pick(FIRST), iat: r.int(1.6e9, 1.8e9) }),
    ),
  );
  return `${header}.${payload}.${base64url(r.bytes(32))}`;
}

function pem(r: Random): string {
  const kind = r.pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]);
  const lines = Array.from(
    { length: r.int(2, 5) },
    () => btoa(String.fromCharCode(...r.bytes(48))),
  );
  return `-----BEGIN ${kind}-----\n${lines.join("\n")}\n-----END ${kind}-----`;
}

/** A key-like name and a high-entropy value, labeled on the value. */
function assignedSecret(r: Random): Entity {
  const name = r.pick([
    "api_key",
    "secret_key",
    "auth_token",
    "client_secret",
    "access_token",
    "AWS_SECRET_ACCESS_KEY",
  ]);
  const value = r.pick([
    () => r.chars(ALNUM, 32),
    () => r.chars(HEX, 40),
    () => r.chars(ALNUM + "/+", 40),
  ])();
  const form = r.pick([`${name}=`, `${name} = "`, `"${name}": "`, `${name}: `]);
  const closing = form.endsWith('"') ? '"' : "";
  return {
    type: "secret",
    text: form + value + closing,
    start: form.length,
    end: form.length + value.length,
  };
}

function password(r: Random): Entity {
  const value = r.chars(UPPER, 2) + r.chars(LOWER, 4) + r.digits(3) + r.pick(["!", "#", "%", "*"]) +
    r.chars(LOWER, 2);
  const form = r.pick(["password=", "Passwort: ", "DB_PASSWORD=", '"password": "']);
  const closing = form.endsWith('"') ? '"' : "";
  return {
    type: "secret",
    text: form + value + closing,
    start: form.length,
    end: form.length + value.length,
  };
}

function urlCredentials(r: Random): Entity {
  const scheme = r.pick(["postgres", "mysql", "https", "redis", "mongodb"]);
  const user = r.pick(["admin", "app", "deploy", r.pick(FIRST)]);
  const pass = r.chars(ALNUM, r.int(10, 18));
  const port = r.int(1024, 9999);
  return whole("secret", `${scheme}://${user}:${pass}@db${r.int(1, 9)}.example.net:${port}/app`);
}

/** A key of a provider whose shape the scanner learnt later (Hugging Face, GitLab, npm, ...). */
function newerProviderKey(r: Random): string {
  switch (r.int(0, 9)) {
    case 0:
      return "hf_" + r.chars(UPPER + LOWER, 34);
    case 1:
      return "glpat-" + r.chars(BASE64URL, 20);
    case 2:
      return "npm_" + r.chars(ALNUM, 36);
    case 3:
      return `SG.${r.chars(BASE64URL, 22)}.${r.chars(BASE64URL, 43)}`;
    case 4:
      return "xai-" + r.chars(ALNUM, 80);
    case 5:
      return "gsk_" + r.chars(ALNUM, 52);
    case 6:
      return "r8_" + r.chars(ALNUM, 37);
    case 7:
      return r.pick(["dop_v1_", "doo_v1_", "dor_v1_"]) + r.chars(HEX, 64);
    case 8:
      return r.pick(["shpat_", "shpss_"]) + r.chars(HEX, 32);
    default:
      return "pplx-" + r.chars(ALNUM, 48);
  }
}

function secret(r: Random): Entity {
  const kind = r.int(0, 14);
  switch (kind) {
    case 0:
      return whole("secret", "AKIA" + r.chars(UPPER + "234567", 16));
    case 1:
      return whole("secret", r.pick(["ghp_", "gho_", "ghs_", "ghu_"]) + r.chars(ALNUM, 36));
    case 2:
      return whole("secret", `github_pat_${r.chars(ALNUM, 22)}_${r.chars(ALNUM, 59)}`);
    case 3:
      return whole(
        "secret",
        r.pick(["sk-proj-", "sk-svcacct-", "sk-"]) + r.chars(BASE64URL, 46) + r.digits(2),
      );
    case 4:
      return whole("secret", "sk-ant-api03-" + r.chars(BASE64URL, 93) + "AA");
    case 5:
      return whole("secret", `xoxb-${r.digits(12)}-${r.digits(13)}-${r.chars(ALNUM, 24)}`);
    case 6:
      return whole(
        "secret",
        r.pick(["sk_live_", "rk_live_", "sk_test_"]) + r.chars(ALNUM, 24) + r.digits(2),
      );
    case 7:
      return whole("secret", "AIza" + r.chars(BASE64URL, 35));
    case 8:
      return whole("secret", jwt(r));
    case 9:
      return whole("secret", pem(r));
    case 10:
      return urlCredentials(r);
    case 11:
      return password(r);
    case 12:
      return whole("secret", newerProviderKey(r));
    default:
      return assignedSecret(r);
  }
}

/** Generators of valid entities, by type. */
export const ENTITY_GENERATORS: Record<PiiType, (r: Random) => Entity> = {
  email,
  phone,
  credit_card: creditCard,
  iban,
  us_ssn: ssn,
  cn_id: cnId,
  ip_address: ipAddress,
  secret,
};

function uuid(r: Random): string {
  const h = r.chars(HEX, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${
    h.slice(20)
  }`;
}

/** Text that resembles an entity but must not be reported. */
export const LOOK_ALIKES: ReadonlyArray<(r: Random) => string> = [
  (r) => formatCard(r, cardDigits(r, false)),
  (r) => ibanText(r, false),
  (r) =>
    `${r.pick(["000", "666", String(r.int(900, 999))])}-${r.digits(2).replace("00", "12")}-${
      r.int(1000, 9999)
    }`,
  (r) => {
    const body = cnIdBody(r);
    const good = cnIdCheckChar(body);
    return body + (good === "X" ? "0" : good === "9" ? "X" : String(Number(good) + 1));
  },
  (r) => `v${r.int(0, 12)}.${r.int(0, 30)}.${r.int(0, 99)}`,
  (r) => `version ${r.int(1, 9)}.${r.int(0, 9)}.${r.int(0, 20)}.${r.int(0, 200)}`,
  (r) =>
    `${r.int(2000, 2030)}-${String(r.int(1, 12)).padStart(2, "0")}-${
      String(r.int(1, 28)).padStart(2, "0")
    }`,
  (r) =>
    `${String(r.int(1, 28)).padStart(2, "0")}/${String(r.int(1, 12)).padStart(2, "0")}/${
      r.int(1990, 2030)
    }`,
  (r) =>
    `${String(r.int(1, 28)).padStart(2, "0")}.${String(r.int(1, 12)).padStart(2, "0")}.${
      r.int(1990, 2030)
    }`,
  uuid,
  (r) => r.chars(HEX, 40),
  (r) => r.chars(HEX, 7),
  (r) => `978-${r.int(0, 9)}-${r.digits(2)}-${r.digits(6)}-${r.int(0, 9)}`,
  (r) => `ISBN ${r.int(0, 9)}-${r.digits(3)}-${r.digits(5)}-${r.int(0, 9)}`,
  (r) => `#${r.digits(r.int(6, 10))}`,
  (r) => `ORD-${r.int(2019, 2026)}-${r.digits(6)}`,
  (r) => `${r.digits(10)}`,
  (r) =>
    r.pick(["YOUR_API_KEY", "sk-...", "<token>", "AKIAIOSFODNN7EXAMPLE", "xoxb-your-token-here"]),
  (r) =>
    r.pick([
      'api_key = "YOUR_API_KEY"',
      "password=changeme",
      "token: <your-token>",
      "secret=xxxxxxxxxxxxxxxx",
    ]),
  () => "ghp_" + "x".repeat(36),
  (r) => `${r.int(256, 999)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}`,
  (r) =>
    `${String(r.int(0, 23)).padStart(2, "0")}:${String(r.int(0, 59)).padStart(2, "0")}:${
      String(r.int(0, 59)).padStart(2, "0")
    }`,
  (r) => `$${r.int(1, 999)},${r.digits(3)}.${r.digits(2)}`,
  (r) => Array.from({ length: 6 }, () => r.chars("0123456789ABCDEF", 2)).join(":"),
  (r) => `user${r.int(1, 99)}@localhost`,
  (r) => `${r.int(200, 999)}-${r.digits(4)}`,
  (r) => {
    // Luhn-valid, but no network issues numbers starting with 8 or 9.
    const payload = `${r.int(8, 9)}${r.digits(14)}`;
    return payload + String(luhnCheckDigit(payload));
  },
  (r) => `${r.chars(HEX, 4)}:${r.chars(HEX, 4)}`,
  (r) => `"token": "<redacted-${r.int(1, 9)}>"`,
  (r) => `build ${r.int(1, 9)}.${r.int(0, 99)}.${r.int(0, 9999)}`,
];
