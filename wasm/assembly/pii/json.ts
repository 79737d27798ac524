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

function putAscii(s: string): void {
  for (let k = 0; k < s.length; k++) putByte(<i32>s.charCodeAt(k));
}

function putInteger(value: u64): void {
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
  jsonLen = 0;
  const offset = <u64>base;
  for (let k = 0; k < findingCount; k++) {
    const p = findingsPtr + (<usize>k << 4);
    const code = load<i32>(p);
    const thousandths = load<i32>(p, 12);
    if (!((typeMask >> code) & 1) || <f64>thousandths / 1000 < minConfidence) continue;
    if (jsonLen > 0) putByte(44);
    putAscii('{"type":"');
    putAscii(unchecked(TYPE_NAMES[code - 1]));
    putAscii('","start":');
    putInteger(offset + <u64>load<i32>(p, 4));
    putAscii(',"end":');
    putInteger(offset + <u64>load<i32>(p, 8));
    putAscii(',"confidence":');
    putConfidence(thousandths);
    putByte(125);
  }
  return jsonLen;
}
