// The text being scanned: the UTF-8 bytes that `TextEncoder.encodeInto` wrote. Every pattern
// the scanner knows is ASCII, and each byte of a multi-byte sequence has class 0 just as the
// character it belongs to would, so scanning bytes finds what scanning code units finds. Only
// the findings' offsets need UTF-16 code units; `toUtf16Offsets` converts those at the end, as
// `TextDecoder` counts them (bytes that are not UTF-8 become one U+FFFD per ill-formed piece).

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

// Whether the text is well-formed UTF-8, where the block formula is exact: -1 until asked.
let wellFormed: i32 = -1;

/** Starts a new walk for `unitsBefore`. */
export function resetUnitCount(): void {
  countedBytes = 0;
  countedUnits = 0;
  wellFormed = -1;
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

// @ts-ignore: decorator
@inline function inBytes(v: v128, low: i32, high: i32): v128 {
  return v128.and(i8x16.ge_u(v, i8x16.splat(<i8>low)), i8x16.le_u(v, i8x16.splat(<i8>high)));
}

/**
 * The lanes of `v` that break a rule of UTF-8, given the bytes one, two and three before each:
 * a continuation byte that no lead byte up to three bytes back calls for (or a called-for byte
 * that is none), a lead that is overlong, a surrogate or past U+10FFFF, and C0, C1 and F5-FF.
 */
// @ts-ignore: decorator
@inline function malformed(v: v128, prev1: v128, prev2: v128, prev3: v128): v128 {
  const calledFor = v128.or(
    v128.or(inBytes(prev1, 0xc2, 0xf4), inBytes(prev2, 0xe0, 0xf4)),
    inBytes(prev3, 0xf0, 0xf4),
  );
  const continuation = i8x16.lt_s(v, i8x16.splat(-64));
  const outOfRange = v128.or(
    v128.or(
      v128.and(i8x16.eq(prev1, i8x16.splat(<i8>0xe0)), i8x16.lt_u(v, i8x16.splat(<i8>0xa0))),
      v128.and(i8x16.eq(prev1, i8x16.splat(<i8>0xed)), i8x16.gt_u(v, i8x16.splat(<i8>0x9f))),
    ),
    v128.or(
      v128.and(i8x16.eq(prev1, i8x16.splat(<i8>0xf0)), i8x16.lt_u(v, i8x16.splat(<i8>0x90))),
      v128.and(i8x16.eq(prev1, i8x16.splat(<i8>0xf4)), i8x16.gt_u(v, i8x16.splat(<i8>0x8f))),
    ),
  );
  const never = v128.or(inBytes(v, 0xc0, 0xc1), i8x16.ge_u(v, i8x16.splat(<i8>0xf5)));
  return v128.or(v128.xor(calledFor, continuation), v128.or(outOfRange, never));
}

/** Whether the sixteen bytes at `p`, with the three before them, are well-formed UTF-8. */
// @ts-ignore: decorator
@inline function wellFormedAt(p: usize): bool {
  return !v128.any_true(
    malformed(v128.load(p), v128.load(p - 1), v128.load(p - 2), v128.load(p - 3)),
  );
}

// The lane numbers, to mask the lanes of a block past the text's end.
const LANE_NUMBERS: usize = memory.data<u8>([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

/**
 * Whether the whole text is well-formed UTF-8: one pass, asked once a walk meets a byte past
 * ASCII, with the bytes before the text and past its end read as zero (so a sequence cut off at
 * either end counts as ill-formed).
 */
function textIsWellFormed(): bool {
  let previous = i8x16.splat(0);
  let errors = i8x16.splat(0);
  for (let i = 0; i < textLen; i += 16) {
    // Runs of ASCII, the common case, are passed 64 bytes at a time.
    while (i + 64 <= textLen && i8x16.bitmask(previous) == 0) {
      const at = textPtr + <usize>i;
      const last = v128.load(at, 48);
      const any = v128.or(
        v128.or(v128.load(at), v128.load(at, 16)),
        v128.or(v128.load(at, 32), last),
      );
      if (i8x16.bitmask(any) != 0) break;
      previous = last;
      i += 64;
    }
    if (i >= textLen) break;
    let v = v128.load(textPtr + <usize>i);
    if (i + 16 > textLen) {
      v = v128.and(v, i8x16.lt_u(v128.load(LANE_NUMBERS), i8x16.splat(<i8>(textLen - i))));
    }
    if (i8x16.bitmask(v128.or(v, previous)) != 0) {
      errors = v128.or(
        errors,
        malformed(
          v,
          i8x16.shuffle(previous, v, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30),
          i8x16.shuffle(previous, v, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29),
          i8x16.shuffle(previous, v, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28),
        ),
      );
    }
    previous = v;
  }
  // The last sequences must end inside the text: what follows it reads as zeros.
  const zero = i8x16.splat(0);
  errors = v128.or(
    errors,
    malformed(
      zero,
      i8x16.shuffle(previous, zero, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30),
      i8x16.shuffle(previous, zero, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29),
      i8x16.shuffle(previous, zero, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28),
    ),
  );
  return !v128.any_true(errors);
}

/**
 * UTF-16 code units of the bytes of block `p` selected by `lanes` (the low ones), as
 * `TextDecoder` decodes the text: the block formula where that is exact, else byte by byte.
 */
// @ts-ignore: decorator
@inline function unitsOfBlock(p: usize, lanes: i32): i32 {
  // ASCII bytes are a character each, whatever comes before them.
  if ((i8x16.bitmask(v128.load(p)) & lanes) == 0) return <i32>popcnt(lanes);
  if (wellFormed < 0) wellFormed = textIsWellFormed() ? 1 : 0;
  return wellFormed ? blockUnits(p, lanes) : checkedBlockUnits(p, lanes);
}

/**
 * UTF-16 code units that a WHATWG decoder (JavaScript's `TextDecoder`) makes of the bytes at
 * `[lo, hi)` of the text, counted at the byte each character or replacement starts at: a valid
 * four-byte sequence is two, every other character one, and each maximal piece of an ill-formed
 * sequence one U+FFFD. Decoding starts three bytes before `lo`, which puts the decoder in the
 * state the whole text's decoding has there (no sequence is longer than four bytes, and a lead
 * byte always starts a new one).
 */
function exactUnits(lo: i32, hi: i32): i32 {
  let i = lo > 3 ? lo - 3 : 0;
  let units = 0;
  while (i < hi) {
    const c = <i32>load<u8>(textPtr + <usize>i);
    let length = 1;
    let weight = 1;
    if (c >= 0xc2 && c <= 0xf4) {
      const needed = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
      let low = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
      let high = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
      let taken = 0;
      while (taken < needed && i + 1 + taken < textLen) {
        const d = <i32>load<u8>(textPtr + <usize>(i + 1 + taken));
        if (d < low || d > high) break;
        low = 0x80;
        high = 0xbf;
        taken++;
      }
      length += taken;
      if (taken == 3) weight = 2;
    }
    if (i >= lo) units += weight;
    i += length;
  }
  return units;
}

/**
 * `blockUnits`, when the block and the bytes around it are well-formed UTF-8 (its formula is
 * exact only then), else counted byte by byte as `TextDecoder` decodes: a Latin-1 file's `é` or
 * `°` is a U+FFFD each, as the same file read as a string has it.
 */
function checkedBlockUnits(p: usize, lanes: i32): i32 {
  const at = <i32>(p - textPtr);
  // Checked: the three bytes before the block (a sequence begun there runs into it, and an
  // ill-formed one leaves its continuation bytes in the block stray) and the three after it
  // (where its last sequences end); each check reads three bytes before its own. The text's
  // first and last bytes are counted byte by byte.
  if (at >= 6 && at + 19 <= textLen && wellFormedAt(p - 3) && wellFormedAt(p + 3)) {
    return blockUnits(p, lanes);
  }
  return exactUnits(at, at + <i32>popcnt(lanes));
}

/** UTF-16 code units before byte `t`; `t` never goes backwards within one walk. */
export function unitsBefore(t: i32): i32 {
  while (countedBytes + 32 <= t) {
    const p = textPtr + <usize>countedBytes;
    // Pure ASCII, the common case, is one unit a byte.
    if (i8x16.bitmask(v128.or(v128.load(p), v128.load(p, 16))) == 0) {
      countedUnits += 32;
    } else {
      countedUnits += unitsOfBlock(p, 0xffff) + unitsOfBlock(p + 16, 0xffff);
    }
    countedBytes += 32;
  }
  if (countedBytes + 16 <= t) {
    countedUnits += unitsOfBlock(textPtr + <usize>countedBytes, 0xffff);
    countedBytes += 16;
  }
  const rest = t - countedBytes;
  return rest == 0 ? countedUnits : countedUnits +
    unitsOfBlock(textPtr + <usize>countedBytes, (1 << rest) - 1);
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

/**
 * The length in bytes of `word` as UTF-8 where the text at `i` spells it, else 0. `word` is
 * lowercase, ASCII letters in the text match in either case, and every character of `word` is
 * in the Basic Multilingual Plane (one UTF-16 unit, at most three UTF-8 bytes), so a word in any
 * script is compared with the text's bytes without encoding it first.
 */
export function utf8WordAt(i: i32, word: string): i32 {
  let p = i;
  for (let k = 0; k < word.length; k++) {
    const c = <i32>word.charCodeAt(k);
    if (c < 0x80) {
      if (lower(at(p)) != c) return 0;
      p++;
    } else if (c < 0x800) {
      if (at(p) != (0xc0 | (c >> 6)) || at(p + 1) != (0x80 | (c & 0x3f))) return 0;
      p += 2;
    } else {
      if (at(p) != (0xe0 | (c >> 12)) || at(p + 1) != (0x80 | ((c >> 6) & 0x3f))) return 0;
      if (at(p + 2) != (0x80 | (c & 0x3f))) return 0;
      p += 3;
    }
  }
  return p - i;
}

/** True when one of the lowercase words in `words` (space-separated) ends within `back` units before `i`. */
export function precededBy(i: i32, back: i32, words: string[]): bool {
  const from = i - back > 0 ? i - back : 0;
  for (let w = 0; w < words.length; w++) {
    if (containsFold(from, i, unchecked(words[w]))) return true;
  }
  return false;
}
