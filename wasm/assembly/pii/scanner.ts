// The single pass. Most characters cost one load and a compare: the loop stops only at anchors
// (a word start, '@', ':', '=', '+', '(' and '-') and hands the candidate to its validator,
// which either reports a finding or says where to resume.

import {
  at,
  C_ALNUM,
  C_ANCHOR,
  C_DIGIT,
  C_HEX,
  C_UPPER,
  C_WORD,
  classOf,
  isDigit,
  isHex,
  isUpper,
  textLen,
  textPtr,
} from "./text";
import { findingCount, resetFindings } from "./findings";
import { isNumberStart, scanNumber, scanParenPhone, scanPlusPhone } from "./numbers";
import { scanEmail } from "./email";
import { scanIban } from "./iban";
import { looksLikeIpv6, scanIpv6 } from "./ipv6";
import {
  resetSecrets,
  scanKeyValue,
  scanPem,
  scanCommandOption,
  scanPrefixedSecret,
  scanUrlCredentials,
} from "./secrets";

/** Whether a provider-key prefix can start with `c` followed by `next` (a cheap filter). */
// @ts-ignore: decorator
@inline function mayBeKeyPrefix(c: i32, next: i32): bool {
  switch (c) {
    case 65: // A: AKIA ASIA AGPA AIDA AROA ANPA AIPA ANVA ABIA ACCA AIza
      return next == 75 || next == 83 || next == 71 || next == 73 || next == 82 || next == 78 ||
        next == 66 || next == 67;
    case 103: // g: ghp_ github_pat_ glpat- gsk_
      return next == 104 || next == 105 || next == 108 || next == 115;
    case 115: // s: sk- sk_ shp*_
      return next == 107 || next == 104;
    case 112: // p: pk_ pplx- pypi-
      return next == 107 || next == 112 || next == 121;
    case 114: // r: rk_ r8_
      return next == 107 || next == 56;
    case 104: // h: hf_
      return next == 102;
    case 110: // n: npm_
      return next == 112;
    case 100: // d: dop_v1_ doo_v1_ dor_v1_
      return next == 111;
    case 83: // S: SG.
      return next == 71;
    case 120: // x: xox? xapp xai-
      return next == 111 || next == 97;
    case 101: // e: eyJ
      return next == 121;
  }
  return false;
}

/** Whether a word starting with `c`, `next` could begin any candidate (inlined in the loop). */
// @ts-ignore: decorator
@inline function mayStartCandidate(c: i32, cls: i32, next: i32): bool {
  if (cls & C_DIGIT) return true;
  const nextCls = classOf(next);
  if ((cls & C_UPPER) && (nextCls & C_UPPER)) return true;
  if ((cls & C_HEX) && (next == 58 || (nextCls & C_HEX))) return true;
  return mayBeKeyPrefix(c, next);
}

function scanWordStart(i: i32, c: i32): i32 {
  const next = at(i + 1);
  if (isHex(c) && (next == 58 || isHex(next)) && looksLikeIpv6(i)) {
    const end = scanIpv6(i);
    if (end > 0) return end;
  }
  if (isDigit(c)) return isNumberStart(i) ? scanNumber(i) : -1;
  if (isUpper(c) && isUpper(next) && isDigit(at(i + 2))) {
    const end = scanIban(i);
    if (end > 0) return end;
  }
  return mayBeKeyPrefix(c, next) ? scanPrefixedSecret(i, c) : -1;
}

function scanPunctuation(i: i32, c: i32): i32 {
  if (c == 64) return scanEmail(i);
  if (c == 58) {
    const next = at(i + 1);
    if (next == 47 && at(i + 2) == 47) return scanUrlCredentials(i);
    if (next == 58) return scanIpv6(i);
    return scanKeyValue(i);
  }
  if (c == 61) return scanKeyValue(i);
  if (c == 43) return isDigit(at(i + 1)) ? scanPlusPhone(i) : -1;
  if (c == 40) return isDigit(at(i + 1)) ? scanParenPhone(i) : -1;
  if (c == 45) {
    const next = at(i + 1);
    if (next == 45) return at(i + 2) == 45 ? scanPem(i) : scanCommandOption(i);
    return next == 112 || next == 117 ? scanCommandOption(i) : -1;
  }
  return -1;
}

/** Handles the candidate at `i` (a word start or an anchor); returns where to resume, or -1. */
// @ts-ignore: decorator
@inline function visit(i: i32): i32 {
  const c = at(i);
  const cls = classOf(c);
  if (cls & C_ALNUM) return mayStartCandidate(c, cls, at(i + 1)) ? scanWordStart(i, c) : -1;
  return scanPunctuation(i, c);
}

// Every byte value splatted to sixteen lanes, filled on the first scan. The mask reads its
// constants from here: V8 rebuilds a `v128.const` with several instructions on each use, while a
// load is one.
const SPLATS: usize = memory.data(256 * 16, 16);
let splatsReady = false;

function fillSplats(): void {
  for (let v = 0; v < 256; v++) v128.store(SPLATS + (<usize>v << 4), i8x16.splat(<i8>v));
  splatsReady = true;
}

// @ts-ignore: decorator
@inline function splat(v: i32): v128 {
  return v128.load(SPLATS + (<usize>(v & 255) << 4));
}

// @ts-ignore: decorator
@inline function inRange(v: v128, low: i32, count: i32): v128 {
  // Shifting the range to start at -128 makes it one signed compare (x86 has no unsigned one).
  return i8x16.lt_s(i8x16.sub(v, splat(low + 128)), splat(count - 128));
}


/**
 * One bit per unit of `[i, i + 16)` that needs a look: the same test as `mayStartCandidate` at
 * a word start (its first characters), or an anchor that its validator would not reject on
 * sight. Spaces, the insides of words and most word starts cost nothing here. Needs `i >= 1`
 * and `i + 18 <= textLen`.
 */
// @ts-ignore: decorator
@inline function attentionMask(i: i32): i32 {
  const p = textPtr + <usize>i;
  const cur = v128.load(p);
  const prev = v128.load(p - 1);
  const next = v128.load(p, 1);
  const third = v128.load(p, 2);
  const prevWord = v128.or(
    v128.or(inRange(prev, 48, 10), inRange(v128.or(prev, splat(32)), 97, 26)),
    i8x16.eq(prev, splat(95)),
  );
  const curDigit = inRange(cur, 48, 10);
  const nextDigit = inRange(next, 48, 10);
  const nextHexOrColon = v128.or(
    v128.or(nextDigit, inRange(v128.or(next, splat(32)), 97, 6)),
    i8x16.eq(next, splat(58)),
  );
  // Capitals: two in a row (IBAN, AKIA...), or a hex pair. Lowercase: a hex pair, or the first
  // two letters of a provider prefix (gh gi sk pk rk xo xa ey).
  // A hex start matters only as IPv6, which needs ':' second or a hex digit or ':' third.
  const thirdHexOrColon = v128.or(
    v128.or(inRange(third, 48, 10), inRange(v128.or(third, splat(32)), 97, 6)),
    i8x16.eq(third, splat(58)),
  );
  const hexStart = v128.and(
    inRange(v128.or(cur, splat(32)), 97, 6),
    v128.or(i8x16.eq(next, splat(58)), v128.and(nextHexOrColon, thirdHexOrColon)),
  );
  const capitals = v128.and(inRange(cur, 65, 26), inRange(next, 65, 26));
  const prefixK = v128.and(
    v128.or(i8x16.eq(cur, splat(112)), inRange(cur, 114, 2)),
    i8x16.eq(next, splat(107)),
  );
  const prefixG = v128.and(i8x16.eq(cur, splat(103)), inRange(next, 104, 2));
  const prefixX = v128.and(
    i8x16.eq(cur, splat(120)),
    v128.or(i8x16.eq(next, splat(111)), i8x16.eq(next, splat(97))),
  );
  const prefixE = v128.and(i8x16.eq(cur, splat(101)), i8x16.eq(next, splat(121)));
  // The newer providers (hf_ npm_ r8_ pplx- pypi- gsk_ glpat- gldt- shp*_ do?_v1_): a third
  // letter where the first two begin common words ("do", "gl", "sh", "py").
  const prefixNew = v128.or(
    v128.or(
      v128.or(
        v128.and(i8x16.eq(cur, splat(104)), i8x16.eq(next, splat(102))),
        v128.and(i8x16.eq(cur, splat(110)), i8x16.eq(next, splat(112))),
      ),
      v128.or(
        v128.and(i8x16.eq(cur, splat(114)), i8x16.eq(next, splat(56))),
        v128.and(
          i8x16.eq(cur, splat(112)),
          v128.or(
            i8x16.eq(next, splat(112)),
            v128.and(i8x16.eq(next, splat(121)), i8x16.eq(third, splat(112))),
          ),
        ),
      ),
    ),
    v128.or(
      v128.and(
        i8x16.eq(cur, splat(103)),
        v128.or(
          i8x16.eq(next, splat(115)),
          v128.and(
            i8x16.eq(next, splat(108)),
            v128.or(i8x16.eq(third, splat(112)), i8x16.eq(third, splat(100))),
          ),
        ),
      ),
      v128.or(
        v128.and(
          v128.and(i8x16.eq(cur, splat(115)), i8x16.eq(next, splat(104))),
          i8x16.eq(third, splat(112)),
        ),
        v128.and(
          v128.and(i8x16.eq(cur, splat(100)), i8x16.eq(next, splat(111))),
          v128.or(i8x16.eq(third, splat(112)), v128.or(i8x16.eq(third, splat(111)), i8x16.eq(third, splat(114)))),
        ),
      ),
    ),
  );
  const startable = v128.or(
    v128.or(v128.or(curDigit, capitals), v128.or(hexStart, prefixK)),
    v128.or(v128.or(prefixG, prefixNew), v128.or(prefixX, prefixE)),
  );
  // '@', ':' and '=' always; '+' and '(' before a digit; '-' before another '-', or before
  // 'p' or 'u' after a space.
  const anchor = v128.or(
    v128.or(
      v128.or(i8x16.eq(cur, splat(64)), i8x16.eq(cur, splat(58))),
      i8x16.eq(cur, splat(61)),
    ),
    v128.or(
      v128.and(
        v128.or(i8x16.eq(cur, splat(43)), i8x16.eq(cur, splat(40))),
        nextDigit,
      ),
      v128.and(
        i8x16.eq(cur, splat(45)),
        v128.or(
          i8x16.eq(next, splat(45)),
          // `-p` and `-u` after a space: a password option of a command line.
          v128.and(
            i8x16.eq(prev, splat(32)),
            v128.or(i8x16.eq(next, splat(112)), i8x16.eq(next, splat(117))),
          ),
        ),
      ),
    ),
  );
  return i8x16.bitmask(v128.or(v128.andnot(startable, prevWord), anchor));
}

/** Whether the scalar path must look at `i` (the same test as `attentionMask`, one unit). */
// @ts-ignore: decorator
@inline function needsLook(i: i32): bool {
  const cls = classOf(at(i));
  if (cls & C_ANCHOR) return true;
  return (cls & C_ALNUM) != 0 && !(classOf(at(i - 1)) & C_WORD);
}

/** Scans the text in place and returns the number of findings written. */
export function scanText(): i32 {
  resetFindings();
  resetSecrets();
  if (!splatsReady) fillSplats();
  const n = textLen;
  let i = 0;
  while (i < n) {
    if (i >= 1 && i + 18 <= n) {
      let mask = attentionMask(i);
      let next = i + 16;
      while (mask != 0) {
        const p = i + ctz(mask);
        const end = visit(p);
        if (end > p) {
          next = end;
          break;
        }
        mask &= mask - 1;
      }
      i = next;
      continue;
    }
    if (needsLook(i)) {
      const end = visit(i);
      if (end > i) {
        i = end;
        continue;
      }
    }
    i++;
  }
  return findingCount;
}
