// The text being scanned, held in linear memory as UTF-16 code units so that every offset the
// scanner reports is already a JavaScript string index.

export let textPtr: usize = 0;
export let textLen: i32 = 0;
let textCap: i32 = 0;

/** Makes room for `units` code units and returns where the caller writes them. */
export function reserveText(units: i32): usize {
  if (units > textCap) {
    let cap = textCap > 0 ? textCap : 4096;
    while (cap < units) cap <<= 1;
    if (textPtr != 0) heap.free(textPtr);
    textPtr = heap.alloc(<usize>cap << 1);
    textCap = cap;
  }
  textLen = units;
  return textPtr;
}

let bytesPtr: usize = 0;
let bytesCap: i32 = 0;

/** Makes room for `n` UTF-8 bytes (as `TextEncoder.encodeInto` writes them). */
export function reserveBytes(n: i32): usize {
  if (n > bytesCap) {
    let cap = bytesCap > 0 ? bytesCap : 4096;
    while (cap < n) cap <<= 1;
    if (bytesPtr != 0) heap.free(bytesPtr);
    bytesPtr = heap.alloc(<usize>cap);
    bytesCap = cap;
  }
  return bytesPtr;
}

/**
 * Decodes `n` UTF-8 bytes into UTF-16 code units, 16 ASCII bytes at a time. A lone surrogate
 * reaches us as U+FFFD, one unit like the surrogate itself, so offsets still match the string.
 */
export function decodeUtf8(n: i32): i32 {
  reserveText(n);
  let src = bytesPtr;
  const end = bytesPtr + <usize>n;
  let dst = textPtr;
  while (src < end) {
    if (src + 16 <= end) {
      const v = v128.load(src);
      // The ASCII units before the first multi-byte sequence are stored widened as they are;
      // the units after it are written again once that sequence is decoded.
      const ascii = ctz(i8x16.bitmask(v) | 0x10000);
      if (ascii > 0) {
        v128.store(dst, i16x8.extend_low_i8x16_u(v));
        v128.store(dst, i16x8.extend_high_i8x16_u(v), 16);
        src += <usize>ascii;
        dst += <usize>ascii << 1;
        continue;
      }
    }
    const b0 = <i32>load<u8>(src);
    if (b0 < 0x80) {
      store<u16>(dst, b0);
      src += 1;
      dst += 2;
    } else if (b0 < 0xe0) {
      store<u16>(dst, ((b0 & 0x1f) << 6) | (<i32>load<u8>(src, 1) & 0x3f));
      src += 2;
      dst += 2;
    } else if (b0 < 0xf0) {
      const cp = ((b0 & 0x0f) << 12) | ((<i32>load<u8>(src, 1) & 0x3f) << 6) |
        (<i32>load<u8>(src, 2) & 0x3f);
      store<u16>(dst, cp);
      src += 3;
      dst += 2;
    } else {
      const cp = (((b0 & 0x07) << 18) | ((<i32>load<u8>(src, 1) & 0x3f) << 12) |
        ((<i32>load<u8>(src, 2) & 0x3f) << 6) | (<i32>load<u8>(src, 3) & 0x3f)) - 0x10000;
      store<u16>(dst, 0xd800 | (cp >> 10));
      store<u16>(dst, 0xdc00 | (cp & 0x3ff), 2);
      src += 4;
      dst += 4;
    }
  }
  textLen = <i32>((dst - textPtr) >> 1);
  return textLen;
}

/** The code unit at `i`, or 0 outside the text (so look-arounds need no bounds checks). */
// @ts-ignore: decorator
@inline export function at(i: i32): i32 {
  return <u32>i < <u32>textLen ? <i32>load<u16>(textPtr + (<usize>i << 1)) : 0;
}

// Character classes of ASCII, one byte each: the main loop tests a class with one load.
export const C_DIGIT: i32 = 1;
export const C_UPPER: i32 = 2;
export const C_LOWER: i32 = 4;
export const C_UNDERSCORE: i32 = 8;
/** `@ : = + ( -`, where a candidate may start. */
export const C_ANCHOR: i32 = 16;
export const C_HEX: i32 = 32;
/** Printable ASCII that may sit inside an assigned value (no space, quotes, brackets, `,;&\\`). */
export const C_VALUE: i32 = 64;
export const C_DASH: i32 = 128;
export const C_ALNUM: i32 = C_DIGIT | C_UPPER | C_LOWER;
export const C_WORD: i32 = C_ALNUM | C_UNDERSCORE;

const CLASSES: usize = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 64, 0, 64, 64, 64, 0, 0, 16, 0, 64, 80, 0, 208, 64, 64,
  97, 97, 97, 97, 97, 97, 97, 97, 97, 97, 80, 0, 0, 80, 0, 64,
  80, 98, 98, 98, 98, 98, 98, 66, 66, 66, 66, 66, 66, 66, 66, 66,
  66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 0, 0, 0, 64, 72,
  0, 100, 100, 100, 100, 100, 100, 68, 68, 68, 68, 68, 68, 68, 68, 68,
  68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 0, 64, 0, 64, 0,
]);

/** The class bits of `c` (0 outside ASCII). */
// @ts-ignore: decorator
@inline export function classOf(c: i32): i32 {
  return <u32>c < 128 ? <i32>load<u8>(CLASSES + <usize>c) : 0;
}

// @ts-ignore: decorator
@inline export function isDigit(c: i32): bool {
  return <u32>(c - 48) < 10;
}

// @ts-ignore: decorator
@inline export function isUpper(c: i32): bool {
  return <u32>(c - 65) < 26;
}

// @ts-ignore: decorator
@inline export function isLower(c: i32): bool {
  return <u32>(c - 97) < 26;
}

// @ts-ignore: decorator
@inline export function isAlpha(c: i32): bool {
  return <u32>((c | 32) - 97) < 26;
}

// @ts-ignore: decorator
@inline export function isAlnum(c: i32): bool {
  return (classOf(c) & C_ALNUM) != 0;
}

/** Letters, digits and `_`: what continues an identifier. */
// @ts-ignore: decorator
@inline export function isWord(c: i32): bool {
  return (classOf(c) & C_WORD) != 0;
}

// @ts-ignore: decorator
@inline export function isHex(c: i32): bool {
  return (classOf(c) & C_HEX) != 0;
}

/** Base64url and base64 alphabet minus padding: `A-Z a-z 0-9 _ -`. */
// @ts-ignore: decorator
@inline export function isTokenChar(c: i32): bool {
  return (classOf(c) & (C_WORD | C_DASH)) != 0;
}

// @ts-ignore: decorator
@inline export function lower(c: i32): i32 {
  return isUpper(c) ? c | 32 : c;
}

/** True when the text at `i` starts with the ASCII string `s` (exact case). */
export function startsWith(i: i32, s: string): bool {
  const n = s.length;
  if (i < 0 || i + n > textLen) return false;
  for (let k = 0; k < n; k++) {
    if (at(i + k) != <i32>s.charCodeAt(k)) return false;
  }
  return true;
}

/** True when the text at `i` starts with the lowercase ASCII string `s`, ignoring case. */
export function startsWithFold(i: i32, s: string): bool {
  const n = s.length;
  if (i < 0 || i + n > textLen) return false;
  for (let k = 0; k < n; k++) {
    if (lower(at(i + k)) != <i32>s.charCodeAt(k)) return false;
  }
  return true;
}

/** True when `[start, end)` contains `s`, ignoring case (`s` lowercase). */
export function containsFold(start: i32, end: i32, s: string): bool {
  const n = s.length;
  const first = <i32>s.charCodeAt(0);
  for (let i = start; i + n <= end; i++) {
    if (lower(at(i)) == first && startsWithFold(i, s)) return true;
  }
  return false;
}

/** True when one of the lowercase words in `words` (space-separated) ends within `back` units before `i`. */
export function precededBy(i: i32, back: i32, words: string[]): bool {
  const from = i - back > 0 ? i - back : 0;
  for (let w = 0; w < words.length; w++) {
    if (containsFold(from, i, unchecked(words[w]))) return true;
  }
  return false;
}
