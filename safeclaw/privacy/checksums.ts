/** Check-digit algorithms of the identifiers the recognizers validate. */
import { createHash } from "node:crypto";

function digitsOf(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) if (ch >= "0" && ch <= "9") out.push(ch.charCodeAt(0) - 48);
  return out;
}

/** Luhn (ISO/IEC 7812) over the digits of `s`. */
export function luhnValid(s: string): boolean {
  const d = digitsOf(s);
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d[d.length - 1 - i];
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return d.length > 0 && sum % 10 === 0;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff (dihedral group D5) over the digits of `s`; Aadhaar's check. */
export function verhoeffValid(s: string): boolean {
  const d = digitsOf(s);
  let c = 0;
  for (let i = 0; i < d.length; i++) c = VERHOEFF_D[c][VERHOEFF_P[i % 8][d[d.length - 1 - i]]];
  return d.length > 0 && c === 0;
}

/** The Verhoeff check digit that completes `payload`. */
export function verhoeffCheckDigit(payload: string): number {
  for (let k = 0; k < 10; k++) if (verhoeffValid(payload + k)) return k;
  throw new Error("unreachable: one Verhoeff digit always completes a payload");
}

/** Weighted sum of digits mod `m`. */
function weighted(d: number[], weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += d[i] * weights[i];
  return sum;
}

/** UK NHS number: ten digits, mod-11 check with weights 10..2; a check of 10 is invalid. */
export function nhsValid(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 10) return false;
  const check = 11 - (weighted(d, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
  return (check === 11 ? 0 : check) === d[9] && check !== 10;
}

/** Australian TFN: nine digits, weighted sum divisible by 11. */
export function tfnValid(s: string): boolean {
  const d = digitsOf(s);
  return d.length === 9 && weighted(d, [1, 4, 3, 7, 5, 8, 6, 9, 10]) % 11 === 0;
}

/** Australian ABN: eleven digits; subtract 1 from the first, weighted sum divisible by 89. */
export function abnValid(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 11 || d[0] === 0) return false;
  d[0] -= 1;
  return weighted(d, [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]) % 89 === 0;
}

/** Australian Medicare: ten or eleven digits, first 2-6, ninth digit the weighted check. */
export function medicareValid(s: string): boolean {
  const d = digitsOf(s);
  if ((d.length !== 10 && d.length !== 11) || d[0] < 2 || d[0] > 6) return false;
  return weighted(d, [1, 3, 7, 9, 1, 3, 7, 9]) % 10 === d[8];
}

/** Polish PESEL: eleven digits with weights 1,3,7,9 and a valid encoded birth date. */
export function peselValid(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 11) return false;
  const check = (10 - (weighted(d, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10)) % 10;
  if (check !== d[10]) return false;
  const month = (d[2] * 10 + d[3]) % 20;
  const day = d[4] * 10 + d[5];
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

const NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";

/** Spanish DNI/NIF (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): mod-23 letter. */
export function nifValid(s: string): boolean {
  const up = s.toUpperCase().replace(/[-\s]/g, "");
  const m = /^([XYZ]?)(\d{7,8})([A-Z])$/.exec(up);
  if (!m) return false;
  const prefix = m[1] ? String("XYZ".indexOf(m[1])) : "";
  if (m[1] ? m[2].length !== 7 : m[2].length !== 8) return false;
  return NIF_LETTERS[Number(prefix + m[2]) % 23] === m[3];
}

// Odd-position values of A..Z; the digits 0..9 take the values of A..J.
const IT_ODD_LETTERS = [
  1,
  0,
  5,
  7,
  9,
  13,
  15,
  17,
  19,
  21,
  2,
  4,
  18,
  20,
  11,
  3,
  6,
  8,
  12,
  14,
  16,
  10,
  22,
  25,
  24,
  23,
];

function italianOddValue(ch: string): number {
  const isDigit = ch >= "0" && ch <= "9";
  return IT_ODD_LETTERS[isDigit ? ch.charCodeAt(0) - 48 : ch.charCodeAt(0) - 65];
}

// The letters that replace digits 0-9 in a code shared by two people (omocodia).
const ITALIAN_OMOCODIA = "LMNPQRSTUV";

const italianDigit = (c: string) => c >= "0" && c <= "9" ? Number(c) : ITALIAN_OMOCODIA.indexOf(c);

/** Italian codice fiscale: 16 characters whose last letter is the odd/even-table check. */
export function italianFiscalCodeValid(s: string): boolean {
  const up = s.toUpperCase();
  if (!/^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/.test(up)) {
    return false;
  }
  // The day of birth, plus 40 for women: 1-31 or 41-71.
  const day = italianDigit(up[9]) * 10 + italianDigit(up[10]);
  if (!((day >= 1 && day <= 31) || (day >= 41 && day <= 71))) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const ch = up[i];
    if (i % 2 === 0) sum += italianOddValue(ch);
    else sum += ch >= "0" && ch <= "9" ? ch.charCodeAt(0) - 48 : ch.charCodeAt(0) - 65;
  }
  return String.fromCharCode(65 + (sum % 26)) === up[15];
}

/** Singapore NRIC/FIN: prefix S/T/F/G/M, seven digits, check letter. */
export function nricValid(s: string): boolean {
  const up = s.toUpperCase();
  const m = /^([STFGM])(\d{7})([A-Z])$/.exec(up);
  if (!m) return false;
  const d = digitsOf(m[2]);
  let sum = weighted(d, [2, 7, 6, 5, 4, 3, 2]);
  if (m[1] === "T" || m[1] === "G") sum += 4;
  if (m[1] === "M") sum += 3;
  const table = m[1] === "S" || m[1] === "T"
    ? "JZIHGFEDCBA"
    : m[1] === "M"
    ? "KLJNPQRTUWX"
    : "XWUTRQPNMLK";
  return table[sum % 11] === m[3];
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Bitcoin-style base58check: 25 decoded bytes whose last four are a double SHA-256 prefix. */
export function base58CheckValid(s: string): boolean {
  let n = 0n;
  for (const ch of s) {
    const v = BASE58.indexOf(ch);
    if (v < 0) return false;
    n = n * 58n + BigInt(v);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const ch of s) {
    if (ch !== "1") break;
    bytes.unshift(0);
  }
  if (bytes.length !== 25) return false;
  const payload = Uint8Array.from(bytes.slice(0, 21));
  const first = createHash("sha256").update(payload).digest();
  const second = createHash("sha256").update(first).digest();
  for (let i = 0; i < 4; i++) if (second[i] !== bytes[21 + i]) return false;
  return true;
}

const BECH32_CHARS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

function bech32Polymod(values: number[]): number {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i];
  }
  return chk >>> 0;
}

/** BIP-173/350 bech32 or bech32m address (`bc1...`, `tb1...`, `ltc1...`). */
export function bech32Valid(s: string): boolean {
  const lower = s.toLowerCase();
  if (lower !== s && s.toUpperCase() !== s) return false;
  const sep = lower.lastIndexOf("1");
  if (sep < 1 || lower.length - sep < 7 || lower.length > 90) return false;
  const hrp = lower.slice(0, sep);
  const data: number[] = [];
  for (const ch of lower.slice(sep + 1)) {
    const v = BECH32_CHARS.indexOf(ch);
    if (v < 0) return false;
    data.push(v);
  }
  const expanded = [...hrp].map((c) => c.charCodeAt(0) >> 5).concat(
    [0],
    [...hrp].map((c) => c.charCodeAt(0) & 31),
  );
  const mod = bech32Polymod(expanded.concat(data));
  return mod === 1 || mod === 0x2bc830a3;
}
