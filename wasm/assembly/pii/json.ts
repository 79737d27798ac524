// The findings of the last scan written as JSON by the scanner itself, for callers that only
// print them (a whole file's scan): no JavaScript object or string is made per finding. The
// text is what JavaScript's template `{"type":"…","start":…,"end":…,"confidence":…}` gives for
// the same finding, objects separated by commas, without the enclosing brackets.

import { findingCount, findingsPtr } from "./findings";

// The type names in code order (code = index + 1), as the host's PII_TYPES lists them.
const TYPE_NAMES: string[] = [
  "email",
  "phone",
  "credit_card",
  "iban",
  "us_ssn",
  "cn_id",
  "ip_address",
  "secret",
];

// The longest object: the longest name, two 16-digit offsets (the host passes safe integers),
// "0.xyz" and the comma.
const MAX_OBJECT_BYTES: i32 = 96;

let jsonPtr: usize = 0;
let jsonCap: i32 = 0;
let jsonLen: i32 = 0;

/** Where the last `findingsJson` wrote its text. */
export function jsonText(): usize {
  return jsonPtr;
}

function reserveJson(n: i32): void {
  if (n <= jsonCap) return;
  let cap = jsonCap > 0 ? jsonCap : 4096;
  while (cap < n) cap <<= 1;
  if (jsonPtr != 0) heap.free(jsonPtr);
  jsonPtr = heap.alloc(<usize>cap);
  jsonCap = cap;
}

// @ts-ignore: decorator
@inline function putByte(c: i32): void {
  store<u8>(jsonPtr + <usize>jsonLen, <u8>c);
  jsonLen++;
}

// The fixed text of an object, as bytes copied whole: a finding's prefix up to its start offset
// (one per type code) and the keys between its numbers. Written a character at a time, they
// took about a third of the writer's time on a file dense with findings.
const PREFIX_SLOT: usize = 32;
const PREFIXES: usize = memory.data(<i32>(PREFIX_SLOT * 9));
const PREFIX_LENGTHS: usize = memory.data(9 * 4, 4);
const END_KEY: usize = memory.data<u8>([44, 34, 101, 110, 100, 34, 58]); // ,"end":
const END_KEY_LENGTH: usize = 7;
// ,"confidence":
const CONFIDENCE_KEY: usize = memory.data<u8>([
  44, 34, 99, 111, 110, 102, 105, 100, 101, 110, 99, 101, 34, 58,
]);
const CONFIDENCE_KEY_LENGTH: usize = 14;
// "00" to "99", two bytes each: a number is written two digits per division.
const DIGIT_PAIRS: usize = memory.data(200, 2);
let fixedTextReady = false;

function fillFixedText(): void {
  for (let code = 1; code <= TYPE_NAMES.length; code++) {
    const text = '{"type":"' + unchecked(TYPE_NAMES[code - 1]) + '","start":';
    const at = PREFIXES + <usize>code * PREFIX_SLOT;
    for (let k = 0; k < text.length; k++) store<u8>(at + <usize>k, <u8>text.charCodeAt(k));
    store<i32>(PREFIX_LENGTHS + (<usize>code << 2), text.length);
  }
  for (let v = 0; v < 100; v++) {
    store<u8>(DIGIT_PAIRS + (<usize>v << 1), <u8>(48 + v / 10));
    store<u8>(DIGIT_PAIRS + (<usize>v << 1) + 1, <u8>(48 + v % 10));
  }
  fixedTextReady = true;
}

// @ts-ignore: decorator
@inline function putBytes(from: usize, length: usize): void {
  memory.copy(jsonPtr + <usize>jsonLen, from, length);
  jsonLen += <i32>length;
}

// @ts-ignore: decorator
@inline function decimalDigits(v: u32): i32 {
  if (v < 10) return 1;
  if (v < 100) return 2;
  if (v < 1000) return 3;
  if (v < 10000) return 4;
  if (v < 100000) return 5;
  if (v < 1000000) return 6;
  if (v < 10000000) return 7;
  if (v < 100000000) return 8;
  if (v < 1000000000) return 9;
  return 10;
}

/** A number below 2^32 in decimal, two digits per step, with 32-bit division. */
function putSmallInteger(value: u32): void {
  const digits = decimalDigits(value);
  let p = jsonPtr + <usize>(jsonLen + digits);
  let rest = value;
  while (rest >= 100) {
    const next = rest / 100;
    p -= 2;
    store<u16>(p, load<u16>(DIGIT_PAIRS + (<usize>(rest - next * 100) << 1)));
    rest = next;
  }
  if (rest >= 10) {
    p -= 2;
    store<u16>(p, load<u16>(DIGIT_PAIRS + (<usize>rest << 1)));
  } else {
    store<u8>(p - 1, <u8>(48 + rest));
  }
  jsonLen += digits;
}

function putInteger(value: u64): void {
  if (value <= <u64>u32.MAX_VALUE) {
    putSmallInteger(<u32>value);
    return;
  }
  let digits = 1;
  for (let rest = value / 10; rest > 0; rest /= 10) digits++;
  let p = jsonPtr + <usize>(jsonLen + digits);
  let rest = value;
  do {
    p--;
    store<u8>(p, <u8>(48 + <i32>(rest % 10)));
    rest /= 10;
  } while (rest > 0);
  jsonLen += digits;
}

/**
 * A confidence in thousandths (0 to 1000, as the validators emit) as JavaScript prints
 * `thousandths / 1000`: the shortest decimal, here the three digits without trailing zeros
 * ("0.9", "0.05", "1").
 */
function putConfidence(thousandths: i32): void {
  if (thousandths >= 1000 || thousandths <= 0) {
    putByte(thousandths >= 1000 ? 49 : 48);
    return;
  }
  const tenths = thousandths / 100;
  const hundredths = (thousandths / 10) % 10;
  const last = thousandths % 10;
  putByte(48);
  putByte(46);
  putByte(48 + tenths);
  if (hundredths != 0 || last != 0) putByte(48 + hundredths);
  if (last != 0) putByte(48 + last);
}

/**
 * Writes the last scan's findings as JSON, their offsets moved by `base` (the UTF-16 units
 * before this text in a longer one), keeping the type codes whose bit is set in `typeMask` and
 * confidences of at least `minConfidence`; returns the byte length written at `jsonText()`.
 */
export function findingsJson(base: f64, typeMask: i32, minConfidence: f64): i32 {
  const room = <i64>findingCount * MAX_OBJECT_BYTES + 1;
  // More than 2 GB of JSON from one scan: trap rather than write past the buffer.
  if (room > <i64>i32.MAX_VALUE) unreachable();
  reserveJson(<i32>room);
  if (!fixedTextReady) fillFixedText();
  jsonLen = 0;
  const offset = <u64>base;
  for (let k = 0; k < findingCount; k++) {
    const p = findingsPtr + (<usize>k << 4);
    const code = load<i32>(p);
    const thousandths = load<i32>(p, 12);
    if (!((typeMask >> code) & 1) || <f64>thousandths / 1000 < minConfidence) continue;
    if (jsonLen > 0) putByte(44);
    putBytes(
      PREFIXES + <usize>code * PREFIX_SLOT,
      <usize>load<i32>(PREFIX_LENGTHS + (<usize>code << 2)),
    );
    putInteger(offset + <u64>load<i32>(p, 4));
    putBytes(END_KEY, END_KEY_LENGTH);
    putInteger(offset + <u64>load<i32>(p, 8));
    putBytes(CONFIDENCE_KEY, CONFIDENCE_KEY_LENGTH);
    putConfidence(thousandths);
    putByte(125);
  }
  return jsonLen;
}
