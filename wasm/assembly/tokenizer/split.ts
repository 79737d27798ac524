// Native pre-tokenizers: the split patterns of GPT-2 (r50k/p50k and HF ByteLevel), cl100k
// (also Llama-3), Qwen2/3 (cl100k with single digits) and o200k, matched on UTF-8 bytes with the
// same leftmost-first, backtracking semantics as the regex engines of the references.
import { isLetter, K_CRLF, K_LL, K_LM, K_LO, K_LT, K_LU, K_M, K_N, K_OTHER, K_WS, unicodeClass } from "./unicode";

export const SPLIT_NONE: i32 = 0;
export const SPLIT_GPT2: i32 = 1;
export const SPLIT_CL100K: i32 = 2;
export const SPLIT_QWEN: i32 = 3;
export const SPLIT_O200K: i32 = 4;

/** Regex flavor: Rust `regex` (tiktoken) or JavaScript (transformers.js). */
export let jsFlavor: bool = false;
// Kinds of the ASCII characters, so the common case is one load.
const ASCII_KINDS: usize = memory.data(128);

export function setFlavor(js: bool): void {
  jsFlavor = js;
  for (let b: u32 = 0; b < 128; b++) {
    store<u8>(ASCII_KINDS + <usize>b, <u8>(b == 10 || b == 13 ? K_CRLF : unicodeClass(b)));
  }
}

// @ts-ignore: decorator
@inline
export function seqLen(text: usize, i: i32): i32 {
  const b = <u32>load<u8>(text + <usize>i);
  if (b < 0x80) return 1;
  if (b < 0xe0) return 2;
  if (b < 0xf0) return 3;
  return 4;
}

// @ts-ignore: decorator
@inline
function codePoint(text: usize, i: i32): u32 {
  const p = text + <usize>i;
  const b = <u32>load<u8>(p);
  if (b < 0x80) return b;
  if (b < 0xe0) return ((b & 0x1f) << 6) | (<u32>load<u8>(p, 1) & 0x3f);
  if (b < 0xf0) {
    return ((b & 0x0f) << 12) | ((<u32>load<u8>(p, 1) & 0x3f) << 6) | (<u32>load<u8>(p, 2) & 0x3f);
  }
  return ((b & 0x07) << 18) | ((<u32>load<u8>(p, 1) & 0x3f) << 12) |
    ((<u32>load<u8>(p, 2) & 0x3f) << 6) | (<u32>load<u8>(p, 3) & 0x3f);
}

/** The kind of the character at byte `i`, with `\s` as the active flavor defines it. */
// @ts-ignore: decorator
@inline
export function kindAt(text: usize, i: i32): u32 {
  const b = <u32>load<u8>(text + <usize>i);
  if (b < 0x80) return <u32>load<u8>(ASCII_KINDS + <usize>b);
  return kindOfNonAscii(text, i);
}

function kindOfNonAscii(text: usize, i: i32): u32 {
  const cp = codePoint(text, i);
  if (cp == 10 || cp == 13) return K_CRLF;
  const kind = unicodeClass(cp);
  if (jsFlavor) {
    if (cp == 0xfeff) return K_WS; // JS \s includes BOM
    if (cp == 0x85) return K_OTHER; // but not NEL
  }
  return kind;
}

// @ts-ignore: decorator
@inline
function isSpaceKind(k: u32): bool {
  return k == K_WS || k == K_CRLF;
}

// @ts-ignore: decorator
@inline
function isPunctKind(k: u32): bool {
  // [^\s\p{L}\p{N}]
  return !isSpaceKind(k) && !isLetter(k) && k != K_N;
}

/** Length of a contraction ('s 't 're 've 'm 'll 'd) starting after the apostrophe at `j`. */
function contraction(text: usize, j: i32, end: i32, caseless: bool): i32 {
  if (j >= end) return 0;
  let b = <u32>load<u8>(text + <usize>j);
  if (caseless && b >= 0x41 && b <= 0x5a) b += 0x20;
  if (b == 0x73 || b == 0x74 || b == 0x6d || b == 0x64) return 1; // s t m d
  // Rust's caseless match folds LATIN SMALL LETTER LONG S (U+017F) to s.
  if (caseless && !jsFlavor && b == 0xc5 && j + 1 < end && load<u8>(text + <usize>j, 1) == 0xbf) {
    return 2;
  }
  if (j + 1 >= end) return 0;
  let c = <u32>load<u8>(text + <usize>j, 1);
  if (caseless && c >= 0x41 && c <= 0x5a) c += 0x20;
  if ((b == 0x72 && c == 0x65) || (b == 0x76 && c == 0x65) || (b == 0x6c && c == 0x6c)) return 2;
  return 0;
}

function skipLetters(text: usize, j: i32, end: i32): i32 {
  while (j < end && isLetter(kindAt(text, j))) j += seqLen(text, j);
  return j;
}

function skipKind(text: usize, j: i32, end: i32, kind: u32): i32 {
  while (j < end && kindAt(text, j) == kind) j += seqLen(text, j);
  return j;
}

function skipPunct(text: usize, j: i32, end: i32): i32 {
  while (j < end && isPunctKind(kindAt(text, j))) j += seqLen(text, j);
  return j;
}

/** `\s*[\r\n]+|\s+(?!\S)|\s+` (GPT-2: without the first) at a whitespace character. */
function whitespace(text: usize, i: i32, end: i32, lineBreaks: bool): i32 {
  let j = i;
  let last = i;
  let lastBreak = -1;
  while (j < end) {
    const k = kindAt(text, j);
    if (!isSpaceKind(k)) break;
    if (k == K_CRLF) lastBreak = j;
    last = j;
    j += seqLen(text, j);
  }
  if (lineBreaks && lastBreak >= 0) return lastBreak + 1;
  if (j >= end) return j;
  return last > i ? last : j;
}

function matchGpt2(text: usize, i: i32, end: i32): i32 {
  const b = <u32>load<u8>(text + <usize>i);
  if (b == 0x27) {
    const n = contraction(text, i + 1, end, false);
    if (n > 0) return i + 1 + n;
  }
  const j = b == 0x20 && i + 1 < end ? i + 1 : i;
  const k = kindAt(text, j);
  if (isLetter(k)) return skipLetters(text, j, end);
  if (k == K_N) return skipKind(text, j, end, K_N);
  if (isPunctKind(k)) return skipPunct(text, j, end);
  return whitespace(text, i, end, false);
}

function matchCl100k(text: usize, i: i32, end: i32, maxDigits: i32): i32 {
  const b = <u32>load<u8>(text + <usize>i);
  if (b == 0x27) {
    const n = contraction(text, i + 1, end, true);
    if (n > 0) return i + 1 + n;
  }
  const k = kindAt(text, i);
  if (isLetter(k)) return skipLetters(text, i, end);
  if (k != K_CRLF && k != K_N) {
    const j = i + seqLen(text, i);
    if (j < end && isLetter(kindAt(text, j))) return skipLetters(text, j, end);
  }
  if (k == K_N) {
    let j = i + seqLen(text, i);
    let n = 1;
    while (n < maxDigits && j < end && kindAt(text, j) == K_N) {
      j += seqLen(text, j);
      n++;
    }
    return j;
  }
  const j = b == 0x20 && i + 1 < end ? i + 1 : i;
  if (isPunctKind(kindAt(text, j))) {
    let e = skipPunct(text, j, end);
    while (e < end) {
      const c = load<u8>(text + <usize>e);
      if (c != 10 && c != 13) break;
      e++;
    }
    return e;
  }
  return whitespace(text, i, end, true);
}

// @ts-ignore: decorator
@inline
function isUpperish(k: u32): bool {
  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  return k == K_LU || k == K_LT || k == K_LM || k == K_LO || k == K_M;
}

// @ts-ignore: decorator
@inline
function isLowerish(k: u32): bool {
  // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  return k == K_LL || k == K_LM || k == K_LO || k == K_M;
}

function optionalContraction(text: usize, j: i32, end: i32): i32 {
  if (j < end && load<u8>(text + <usize>j) == 0x27) {
    const n = contraction(text, j + 1, end, true);
    if (n > 0) return j + 1 + n;
  }
  return j;
}

/** `[Upperish]*[Lowerish]+(contraction)?` from `s`, or -1. */
function o200kLowerWord(text: usize, s: i32, end: i32): i32 {
  let u = s;
  let lastLowerish = -1;
  while (u < end) {
    const k = kindAt(text, u);
    if (!isUpperish(k)) break;
    if (isLowerish(k)) lastLowerish = u;
    u += seqLen(text, u);
  }
  if (u < end && kindAt(text, u) == K_LL) {
    let w = u;
    while (w < end && isLowerish(kindAt(text, w))) w += seqLen(text, w);
    return optionalContraction(text, w, end);
  }
  // Backtrack: the last Lowerish character inside the Upperish run ends the word.
  if (lastLowerish < 0) return -1;
  return optionalContraction(text, lastLowerish + seqLen(text, lastLowerish), end);
}

/** `[Upperish]+[Lowerish]*(contraction)?` from `s`, or -1. */
function o200kUpperWord(text: usize, s: i32, end: i32): i32 {
  let u = s;
  while (u < end && isUpperish(kindAt(text, u))) u += seqLen(text, u);
  if (u == s) return -1;
  while (u < end && isLowerish(kindAt(text, u))) u += seqLen(text, u);
  return optionalContraction(text, u, end);
}

function matchO200k(text: usize, i: i32, end: i32): i32 {
  const k = kindAt(text, i);
  const prefixed = k != K_CRLF && !isLetter(k) && k != K_N;
  const next = i + seqLen(text, i);
  let r: i32;
  if (prefixed && next < end) {
    r = o200kLowerWord(text, next, end);
    if (r > 0) return r;
  }
  r = o200kLowerWord(text, i, end);
  if (r > 0) return r;
  if (prefixed && next < end) {
    r = o200kUpperWord(text, next, end);
    if (r > 0) return r;
  }
  r = o200kUpperWord(text, i, end);
  if (r > 0) return r;
  if (k == K_N) {
    let j = next;
    let n = 1;
    while (n < 3 && j < end && kindAt(text, j) == K_N) {
      j += seqLen(text, j);
      n++;
    }
    return j;
  }
  const b = <u32>load<u8>(text + <usize>i);
  const j = b == 0x20 && i + 1 < end ? i + 1 : i;
  if (isPunctKind(kindAt(text, j))) {
    let e = skipPunct(text, j, end);
    while (e < end) {
      const c = load<u8>(text + <usize>e);
      if (c != 10 && c != 13 && c != 0x2f) break;
      e++;
    }
    return e;
  }
  return whitespace(text, i, end, true);
}

/** End (exclusive) of the pre-token that starts at byte `i`. */
export function nextPiece(mode: i32, text: usize, i: i32, end: i32): i32 {
  if (mode == SPLIT_CL100K) return matchCl100k(text, i, end, 3);
  if (mode == SPLIT_O200K) return matchO200k(text, i, end);
  if (mode == SPLIT_QWEN) return matchCl100k(text, i, end, 1);
  if (mode == SPLIT_GPT2) return matchGpt2(text, i, end);
  return end;
}
