// IBANs: country code, two check digits and a BBAN whose length the country fixes; mod-97 must
// leave 1. Printed either compact or in groups of four.

import { at, isAlnum, isDigit, isUpper, isWord } from "./text";
import { emit, IBAN } from "./findings";

const LENGTHS: string =
  "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28EE20EG29ES24" +
  "FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HN28HR21HU28IE22IL23IQ23IR26IS26IT27JO30KW30KZ20LB28LC32" +
  "LI21LT20LU20LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28PS29PT25QA29RO24" +
  "RS22RU33SA24SC31SD18SE24SI19SK24SM27SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20YE30";

const table: usize = memory.data(26 * 26);
let tableReady = false;

function expectedLength(c0: i32, c1: i32): i32 {
  if (!tableReady) {
    for (let k = 0; k < LENGTHS.length; k += 4) {
      const idx = (<i32>LENGTHS.charCodeAt(k) - 65) * 26 + <i32>LENGTHS.charCodeAt(k + 1) - 65;
      const len = (<i32>LENGTHS.charCodeAt(k + 2) - 48) * 10 + <i32>LENGTHS.charCodeAt(k + 3) - 48;
      store<u8>(table + idx, <u8>len);
    }
    tableReady = true;
  }
  return <i32>load<u8>(table + (c0 - 65) * 26 + c1 - 65);
}

const chars: usize = memory.data(40 * 4);

function mod97(n: i32): i32 {
  // Country code and check digits move to the end. The remainder is reduced only when it
  // could overflow: 10^15 leaves room for two more decimal places in a u64.
  let rem: u64 = 0;
  for (let k = 4; k < n + 4; k++) {
    const c = load<i32>(chars + (<usize>(k < n ? k : k - n) << 2));
    rem = isDigit(c) ? rem * 10 + <u64>(c - 48) : rem * 100 + <u64>(c - 55);
    if (rem >= 1_000_000_000_000_000) rem %= 97;
  }
  return <i32>(rem % 97);
}

/** Scans a possible IBAN at word start `s`; returns its end, or -1. */
export function scanIban(s: i32): i32 {
  const c0 = at(s);
  const c1 = at(s + 1);
  if (!isUpper(c1) || !isDigit(at(s + 2)) || !isDigit(at(s + 3))) return -1;
  const want = expectedLength(c0, c1);
  if (want == 0) return -1;
  let n = 0;
  let i = s;
  let groupLen = 0;
  let spaced = false;
  while (n < want) {
    const c = at(i);
    if (isDigit(c) || isUpper(c)) {
      store<i32>(chars + (<usize>n << 2), c);
      n++;
      groupLen++;
      i++;
      continue;
    }
    // A single space may separate groups of exactly four.
    if (c == 32 && groupLen == 4 && (n == 4 || spaced) && isAlnum(at(i + 1))) {
      spaced = true;
      groupLen = 0;
      i++;
      continue;
    }
    return -1;
  }
  if (isWord(at(i))) return -1;
  // IBAN-shaped but failing mod-97: skip it whole so its digit groups are not read as numbers.
  if (mod97(want) != 1) return i;
  emit(IBAN, s, i, 980);
  return i;
}
