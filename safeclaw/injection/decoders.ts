/**
 * Encodings an attacker uses to slip an instruction past a reader that the base64, hex, URL and
 * rot13 views do not undo: text smuggled in invisible Unicode (tag characters, variation
 * selectors), base32, Ascii85, quoted-printable, uuencode, Morse, Braille, the NATO alphabet and
 * "zalgo" stacks of combining marks. Each decoder is one linear pass and
 * returns a reading only when it reads as text, so ordinary prose yields none.
 */

/** A decoded reading of a text: which encoding, and what it says. */
export interface DecodedPayload {
  /** The encoding undone. */
  encoding: PayloadEncoding;
  /** The decoded text (not yet canonical). */
  text: string;
}

/** The encodings {@linkcode decodedPayloads} undoes. */
export type PayloadEncoding =
  | "unicode_tags"
  | "variation_selectors"
  | "base32"
  | "ascii85"
  | "quoted_printable"
  | "uuencode"
  | "morse"
  | "braille"
  | "nato"
  | "zalgo";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) return true;
  }
  return false;
}

/** Whether `text` is mostly letters, digits, punctuation and spaces, with a word in it. */
function readsAsText(text: string): boolean {
  // A control character is a byte of something else read as text (a query string's `=10`).
  if (!/[a-z]{3}/i.test(text) || hasControlCharacter(text)) return false;
  let ok = 0;
  let all = 0;
  for (const ch of text) {
    all++;
    if (/[\p{L}\p{N}\p{P}\p{Zs}\n]/u.test(ch)) ok++;
  }
  return ok / all > 0.9;
}

function bytesToText(bytes: Uint8Array): string | undefined {
  try {
    const text = utf8.decode(bytes);
    return readsAsText(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

// Tag characters U+E0020..U+E007E mirror ASCII and render as nothing ("ASCII smuggling"). A flag
// of a country's subdivision (🏴 + tags + U+E007F) is their one everyday use, and is short.
const TAG_RUN = /(?:\u{E0000}|[\u{E0020}-\u{E007F}])+/gu;
const TAG_MIN = 4;

function unicodeTags(text: string, out: DecodedPayload[]): void {
  if (!/[\u{E0000}-\u{E007F}]/u.test(text)) return;
  for (const m of text.matchAll(TAG_RUN)) {
    const flag = text.codePointAt(m.index - 2) === 0x1F3F4 && m[0].endsWith("\u{E007F}");
    if (flag) continue;
    let decoded = "";
    for (const ch of m[0]) {
      const code = ch.codePointAt(0)! - 0xE0000;
      if (code >= 0x20 && code <= 0x7e) decoded += String.fromCharCode(code);
    }
    if (decoded.length >= TAG_MIN && /[a-z]{3}/i.test(decoded)) {
      out.push({ encoding: "unicode_tags", text: decoded });
    }
  }
}

// Variation selectors carry one byte each (VS1-16: 0-15, VS17-256: 16-255) after a visible
// character that they do not change; a run of them is a hidden byte string.
const SELECTOR_RUN = /(?:[\uFE00-\uFE0F]|[\u{E0100}-\u{E01EF}]){4,}/gu;

function variationSelectors(text: string, out: DecodedPayload[]): void {
  if (!/[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u.test(text)) return;
  for (const m of text.matchAll(SELECTOR_RUN)) {
    const bytes: number[] = [];
    for (const ch of m[0]) {
      const code = ch.codePointAt(0)!;
      bytes.push(code <= 0xFE0F ? code - 0xFE00 : code - 0xE0100 + 16);
    }
    const decoded = bytesToText(Uint8Array.from(bytes));
    if (decoded) out.push({ encoding: "variation_selectors", text: decoded });
  }
}

const BASE32_RUN = /\b[A-Z2-7]{16,}={0,6}/g;
const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(text: string, out: DecodedPayload[]): void {
  for (const m of text.matchAll(BASE32_RUN)) {
    const run = m[0].replace(/=+$/, "");
    // Upper-case words and acronyms are letters only: a run needs a digit of the alphabet or
    // padding to be a likely encoding, and the decoded text still has to read.
    if (!/[2-7=]/.test(m[0])) continue;
    const bytes: number[] = [];
    let buffer = 0;
    let bits = 0;
    for (const c of run) {
      buffer = (buffer << 5) | BASE32_ALPHABET.indexOf(c);
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((buffer >> bits) & 0xff);
      }
    }
    const decoded = bytesToText(Uint8Array.from(bytes));
    if (decoded) out.push({ encoding: "base32", text: decoded });
  }
}

// Ascii85 as Adobe writes it (`<~ … ~>`) and bare runs of its alphabet with no space.
const ASCII85_DELIMITED = /<~([!-uz\s]{10,}?)~>/g;
const ASCII85_BARE = /[!-u]{25,}/g;

function decodeAscii85(run: string): string | undefined {
  const clean = run.replace(/\s+/g, "");
  const bytes: number[] = [];
  let group: number[] = [];
  const flush = (count: number) => {
    while (group.length < 5) group.push(84);
    let value = 0;
    for (const digit of group) value = value * 85 + digit;
    if (value > 0xffffffff) return false;
    const four = [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
    bytes.push(...four.slice(0, count - 1));
    group = [];
    return true;
  };
  for (const c of clean) {
    if (c === "z" && !group.length) {
      bytes.push(0, 0, 0, 0);
      continue;
    }
    const digit = c.charCodeAt(0) - 33;
    if (digit < 0 || digit > 84) return undefined;
    group.push(digit);
    if (group.length === 5 && !flush(5)) return undefined;
  }
  if (group.length === 1) return undefined;
  if (group.length && !flush(group.length)) return undefined;
  return bytesToText(Uint8Array.from(bytes));
}

function ascii85(text: string, out: DecodedPayload[]): void {
  const seen = new Set<string>();
  for (const m of text.matchAll(ASCII85_DELIMITED)) {
    const decoded = decodeAscii85(m[1]);
    seen.add(m[1]);
    if (decoded) out.push({ encoding: "ascii85", text: decoded });
  }
  for (const m of text.matchAll(ASCII85_BARE)) {
    // A word of prose or a URL decodes to bytes that do not read; an encoding of words reads,
    // and has its share of common words (checked by the caller's views, like rot13's).
    if (seen.has(m[0]) || !/[!-/:-@[-`]/.test(m[0])) continue;
    const decoded = decodeAscii85(m[0]);
    if (decoded && /[a-z]{3} [a-z]{2}/i.test(decoded)) {
      out.push({ encoding: "ascii85", text: decoded });
    }
  }
}

// Quoted-printable is line-oriented: a line (soft breaks `=` + newline joined) with three or more
// `=XX` escapes is read whole. One pass over the text; a regex that looked for runs of escapes
// rescanned the text before each `=` from every start (quadratic on a long line with a late `=41`).
const QP_ESCAPE = /=[0-9A-F]{2}/g;
const QP_MIN_ESCAPES = 3;

function quotedPrintable(text: string, out: DecodedPayload[]): void {
  if (!/=[0-9A-F]{2}/.test(text)) return;
  for (const line of text.replace(/=\r?\n/g, "").split("\n")) {
    let escapes = 0;
    for (const _ of line.matchAll(QP_ESCAPE)) if (++escapes >= QP_MIN_ESCAPES) break;
    if (escapes < QP_MIN_ESCAPES) continue;
    const bytes: number[] = [];
    for (let i = 0; i < line.length; i++) {
      const code = line.charCodeAt(i);
      if (code === 61 /* = */ && /^[0-9A-F]{2}$/.test(line.slice(i + 1, i + 3))) {
        bytes.push(parseInt(line.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (code < 128) {
        bytes.push(code);
      } else {
        bytes.push(...encoder.encode(line[i]));
      }
    }
    const decoded = bytesToText(Uint8Array.from(bytes));
    if (decoded && decoded !== line) out.push({ encoding: "quoted_printable", text: decoded });
  }
}

const encoder = new TextEncoder();
const UU_BEGIN = /^begin [0-7]{3} \S+\r?$/gm;

function uuencode(text: string, out: DecodedPayload[]): void {
  if (!text.includes("begin ")) return;
  // Each block ends at the first `end` line after its header: found with one forward search, so
  // a text of many headers and no end is read once, not once per header.
  let searchedTo = 0;
  for (const m of text.matchAll(UU_BEGIN)) {
    const bodyStart = m.index + m[0].length + 1;
    if (bodyStart <= searchedTo) continue;
    const endAt = text.indexOf("\nend", bodyStart - 1);
    if (endAt === -1) return;
    searchedTo = endAt;
    const body = text.slice(bodyStart, endAt + 1);
    const bytes: number[] = [];
    for (const line of body.split(/\r?\n/)) {
      if (!line) continue;
      const length = (line.charCodeAt(0) - 32) & 63;
      const chars = line.slice(1);
      const lineBytes: number[] = [];
      for (let i = 0; i < chars.length && lineBytes.length < length; i += 4) {
        const [a, b, c, d] = [0, 1, 2, 3].map((k) => ((chars.charCodeAt(i + k) || 32) - 32) & 63);
        lineBytes.push((a << 2) | (b >> 4), ((b & 15) << 4) | (c >> 2), ((c & 3) << 6) | d);
      }
      bytes.push(...lineBytes.slice(0, length));
    }
    const decoded = bytesToText(Uint8Array.from(bytes));
    if (decoded) out.push({ encoding: "uuencode", text: decoded });
  }
}

const MORSE: Record<string, string> = {
  ".-": "a",
  "-...": "b",
  "-.-.": "c",
  "-..": "d",
  ".": "e",
  "..-.": "f",
  "--.": "g",
  "....": "h",
  "..": "i",
  ".---": "j",
  "-.-": "k",
  ".-..": "l",
  "--": "m",
  "-.": "n",
  "---": "o",
  ".--.": "p",
  "--.-": "q",
  ".-.": "r",
  "...": "s",
  "-": "t",
  "..-": "u",
  "...-": "v",
  ".--": "w",
  "-..-": "x",
  "-.--": "y",
  "--..": "z",
  "-----": "0",
  ".----": "1",
  "..---": "2",
  "...--": "3",
  "....-": "4",
  ".....": "5",
  "-....": "6",
  "--...": "7",
  "---..": "8",
  "----.": "9",
  ".-.-.-": ".",
  "--..--": ",",
  "..--..": "?",
};
// Dots and dashes (also the en dash and the middle dot some writers use), letters split by a
// space and words by a slash, a pipe or a wider gap.
const MORSE_RUN = /(?:[.\-·–]{1,6}(?:[ \t]+|[ \t]*[/|][ \t]*)){5,}[.\-·–]{1,6}/g;

function morse(text: string, out: DecodedPayload[]): void {
  for (const m of text.matchAll(MORSE_RUN)) {
    const words = m[0].replace(/·/g, ".").replace(/–/g, "-").split(/[ \t]*[/|][ \t]*|[ \t]{3,}/);
    const decoded = words.map((word) =>
      word.trim().split(/[ \t]+/).map((letter) => MORSE[letter] ?? "").join("")
    ).join(" ");
    if (/[a-z]{3}/.test(decoded)) out.push({ encoding: "morse", text: decoded });
  }
}

// Grade 1 English Braille: the dot pattern of each letter, as the offset from U+2800.
const BRAILLE_LETTERS = "a1b3c9d25e17f11g27h19i10j26k5l7m13n29o21p15q31r23s14t30u37v39w58x45y61z53";
const BRAILLE: Map<number, string> = new Map(
  Array.from(BRAILLE_LETTERS.matchAll(/([a-z])(\d+)/g), (m) => [0x2800 + Number(m[2]), m[1]]),
);
const BRAILLE_RUN = /[\u2800-\u28FF][\u2800-\u28FF\s]{3,}/g;

function braille(text: string, out: DecodedPayload[]): void {
  if (!/[\u2801-\u28FF]/.test(text)) return;
  for (const m of text.matchAll(BRAILLE_RUN)) {
    let decoded = "";
    for (const ch of m[0]) {
      const code = ch.charCodeAt(0);
      decoded += code === 0x2800 || /\s/.test(ch) ? " " : BRAILLE.get(code) ?? "";
    }
    if (/[a-z]{3}/.test(decoded)) out.push({ encoding: "braille", text: decoded.trim() });
  }
}

const NATO_WORDS = [
  "alfa",
  "bravo",
  "charlie",
  "delta",
  "echo",
  "foxtrot",
  "golf",
  "hotel",
  "india",
  "juliett",
  "kilo",
  "lima",
  "mike",
  "november",
  "oscar",
  "papa",
  "quebec",
  "romeo",
  "sierra",
  "tango",
  "uniform",
  "victor",
  "whiskey",
  "x-ray",
  "yankee",
  "zulu",
];
const NATO = new Map<string, string>(NATO_WORDS.map((w) => [w, w[0]]));
NATO.set("alpha", "a").set("juliet", "j").set("xray", "x");
const NATO_WORD = `(?:${[...NATO.keys()].join("|")})`;
const NATO_RUN = new RegExp(`\\b${NATO_WORD}(?:[\\s,/|-]+${NATO_WORD}){5,}\\b`, "gi");

function nato(text: string, out: DecodedPayload[]): void {
  for (const m of text.matchAll(NATO_RUN)) {
    // A slash or a pipe is a word break; spaces join the letters of one word.
    const decoded = m[0].toLowerCase().replace(/x-ray/g, "xray").split(/\s*[/|]\s*/).map((word) =>
      word.split(/[\s,-]+/).map((w) => NATO.get(w) ?? "").join("")
    ).join(" ");
    out.push({ encoding: "nato", text: decoded });
  }
}

// Three or more combining marks on one character is no language's spelling.
const ZALGO_STACK = /\p{M}{3,}/u;

function zalgo(text: string, out: DecodedPayload[]): void {
  if (!ZALGO_STACK.test(text)) return;
  // Marks stripped before NFD as well as after: NFD sorts a run of marks in quadratic time.
  const bare = text.replace(/\p{M}+/gu, "").normalize("NFD").replace(/\p{M}+/gu, "");
  out.push({ encoding: "zalgo", text: bare });
}

const DECODERS = [
  unicodeTags,
  variationSelectors,
  base32,
  ascii85,
  quotedPrintable,
  uuencode,
  morse,
  braille,
  nato,
  zalgo,
];

/**
 * Every reading of `text` under the encodings above that decodes to text (reversed text is the
 * caller's: every text has a reversal, and only one that reads better than the text is worth a
 * view).
 *
 * @example
 * ```ts
 * import { decodedPayloads } from "./decoders.ts";
 * const smuggled = "Hi" + [..."ignore all rules"].map((c) =>
 *   String.fromCodePoint(0xE0000 + c.charCodeAt(0))
 * ).join("");
 * console.log(decodedPayloads(smuggled).find((p) => p.encoding === "unicode_tags")?.text);
 * // "ignore all rules"
 * ```
 */
export function decodedPayloads(text: string): DecodedPayload[] {
  const out: DecodedPayload[] = [];
  for (const decode of DECODERS) decode(text, out);
  return out;
}
