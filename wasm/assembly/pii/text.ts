// The text being scanned: the UTF-8 bytes that `TextEncoder.encodeInto` wrote. Every pattern
// the scanner knows is ASCII, and each byte of a multi-byte sequence has class 0 just as the
// character it belongs to would, so scanning bytes finds what scanning code units finds. Only
// the findings' offsets need UTF-16 code units; `toUtf16Offsets` converts those at the end.

export let textPtr: usize = 0;
export let textLen: i32 = 0;
let textCap: i32 = 0;

/** Makes room for `n` UTF-8 bytes and returns where the host writes them. */
export function reserveText(n: i32): usize {
  if (n > textCap) {
    let cap = textCap > 0 ? textCap : 4096;
    while (cap < n) cap <<= 1;
    if (textPtr != 0) heap.free(textPtr);
    // 16 spare bytes let block loads at the end of the text stay inside the allocation.
    textPtr = heap.alloc(<usize>cap + 16);
    textCap = cap;
  }
  return textPtr;
}

/** Marks the first `n` reserved bytes as the text to scan. */
export function useText(n: i32): void {
  textLen = n;
}

/** The byte at `i`, or 0 outside the text (so look-arounds need no bounds checks). */
// @ts-ignore: decorator
@inline export function at(i: i32): i32 {
  return <u32>i < <u32>textLen ? <i32>load<u8>(textPtr + <usize>i) : 0;
}

// A forward-only cursor over the text in 16-byte blocks: `countedUnits` UTF-16 code units lie
// before byte `countedBytes`. Findings come in text order, so their offsets are converted in one
// walk.
let countedBytes: i32 = 0;
let countedUnits: i32 = 0;

/** Starts a new walk for `unitsBefore`. */
export function resetUnitCount(): void {
  countedBytes = 0;
  countedUnits = 0;
}

/**
 * UTF-16 code units in the bytes of 16-byte block `p` selected by `lanes`: one per byte that
 * starts a character, and a second for each four-byte sequence (a surrogate pair in
 * JavaScript). A lone surrogate was written as U+FFFD, one character like the surrogate itself.
 */
// @ts-ignore: decorator
@inline function blockUnits(p: usize, lanes: i32): i32 {
  const v = v128.load(p);
  // As signed bytes, continuations (0x80-0xbf) are below -64 and four-byte leads
  // (0xf0-0xf7) lie in [-16, -9].
  const continuation = i8x16.bitmask(i8x16.lt_s(v, i8x16.splat(-64)));
  const fourByte = i8x16.bitmask(
    v128.and(i8x16.gt_s(v, i8x16.splat(-17)), i8x16.lt_s(v, i8x16.splat(-8))),
  );
  return <i32>popcnt(~continuation & lanes) + <i32>popcnt(fourByte & lanes);
}

/** UTF-16 code units before byte `t`; `t` never goes backwards within one walk. */
export function unitsBefore(t: i32): i32 {
  while (countedBytes + 32 <= t) {
    const p = textPtr + <usize>countedBytes;
    // Pure ASCII, the common case, is one unit a byte.
    if (i8x16.bitmask(v128.or(v128.load(p), v128.load(p, 16))) == 0) {
      countedUnits += 32;
    } else {
      countedUnits += blockUnits(p, 0xffff) + blockUnits(p + 16, 0xffff);
    }
    countedBytes += 32;
  }
  if (countedBytes + 16 <= t) {
    countedUnits += blockUnits(textPtr + <usize>countedBytes, 0xffff);
    countedBytes += 16;
  }
  // The block may run past the text; the buffer has room for it and the lanes mask it off.
  return countedUnits + blockUnits(textPtr + <usize>countedBytes, (1 << (t - countedBytes)) - 1);
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
