// Digit-led candidates: a run of digit groups joined by single spaces, hyphens or dots is read
// once, then every span of whole groups is tried against the numeric types, longest first.
// Groups only break at spaces, so "4111 1111 1111 1111 2025" still yields the card.

import { at, isAlnum, isDigit, isUpper, isWord, precededBy, utf8WordAt } from "./text";
import { CN_ID, CREDIT_CARD, emit, IP_ADDRESS, PHONE, US_SSN } from "./findings";

const MAX_GROUPS: i32 = 8;
const MAX_DIGITS: i32 = 24;
const groupStarts: usize = memory.data(MAX_GROUPS * 4);
const groupEnds: usize = memory.data(MAX_GROUPS * 4);
const separators: usize = memory.data(MAX_GROUPS * 4);
const digitBuf: usize = memory.data(MAX_DIGITS * 4);
let groupCount: i32 = 0;
let endsWithX: bool = false;
let digitCount: i32 = 0;

// @ts-ignore: decorator
@inline function gStart(k: i32): i32 {
  return load<i32>(groupStarts + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline function gEnd(k: i32): i32 {
  return load<i32>(groupEnds + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline function gLen(k: i32): i32 {
  return gEnd(k) - gStart(k);
}
// @ts-ignore: decorator
@inline function sepAfter(k: i32): i32 {
  return load<i32>(separators + (<usize>k << 2));
}
// @ts-ignore: decorator
@inline function digit(j: i32): i32 {
  return load<i32>(digitBuf + (<usize>j << 2));
}

const SSN_CONTEXT: string[] = ["ssn", "social security", "sozialversicherung"];
const VERSION_CONTEXT: string[] = ["version", "ver.", "release", "build", "firmware"];

/** Whether a digit at `s` begins a number rather than continuing a code like `ORD-2024`. */
export function isNumberStart(s: i32): bool {
  const p = at(s - 1);
  if (isWord(p) || p == 35 /* # */) return false;
  if ((p == 46 || p == 45 || p == 47 || p == 44) && isAlnum(at(s - 2))) return false;
  return true;
}

/** Skips the rest of a compound token such as a date, a time or a dotted version. */
export function skipCompound(i: i32): i32 {
  while (true) {
    const c = at(i);
    if (isWord(c)) {
      i++;
      continue;
    }
    if ((c == 46 || c == 45 || c == 47 || c == 58 || c == 44) && isAlnum(at(i + 1))) {
      i += 2;
      continue;
    }
    return i;
  }
}

/**
 * Reads digit groups from `s` into groups `first` on (0, or after the groups of the line before
 * when a line's groups may continue them); returns the token end, or -1 when the token runs on
 * (more than MAX_GROUPS groups in all: no value has that many).
 */
function readGroups(s: i32, first: i32 = 0): i32 {
  groupCount = first;
  endsWithX = false;
  let i = s;
  while (true) {
    // Checked before every store, `first` included: the arrays hold MAX_GROUPS groups and
    // nothing past them is ours.
    if (groupCount >= MAX_GROUPS) return -1;
    const start = i;
    while (isDigit(at(i))) i++;
    store<i32>(groupStarts + (<usize>groupCount << 2), start);
    store<i32>(groupEnds + (<usize>groupCount << 2), i);
    const c = at(i);
    const sepOk = (c == 32 || c == 45 || c == 46) && isDigit(at(i + 1));
    store<i32>(separators + (<usize>groupCount << 2), sepOk ? c : 0);
    groupCount++;
    if (!sepOk) break;
    i++;
  }
  let c = at(i);
  if ((c == 88 || c == 120) && i - gStart(groupCount - 1) == 17 && !isWord(at(i + 1))) {
    endsWithX = true;
    i++;
    c = at(i);
  }
  if (isWord(c)) return -1;
  return i;
}

/** Collects the digits of groups [a, b) into the digit buffer. */
function gatherDigits(a: i32, b: i32): bool {
  digitCount = 0;
  for (let k = a; k < b; k++) {
    for (let i = gStart(k); i < gEnd(k); i++) {
      if (digitCount == MAX_DIGITS) return false;
      store<i32>(digitBuf + (<usize>digitCount << 2), at(i) - 48);
      digitCount++;
    }
  }
  return true;
}

function sameSeparator(a: i32, b: i32, allowed0: i32, allowed1: i32, allowed2: i32): bool {
  if (b - a < 2) return true;
  const sep = sepAfter(a);
  if (sep != allowed0 && sep != allowed1 && sep != allowed2) return false;
  for (let k = a + 1; k < b - 1; k++) if (sepAfter(k) != sep) return false;
  return true;
}

function lengthsAre(a: i32, b: i32, l0: i32, l1: i32, l2: i32, l3: i32, l4: i32): bool {
  const want = l4 > 0 ? 5 : l3 > 0 ? 4 : l2 > 0 ? 3 : l1 > 0 ? 2 : 1;
  if (b - a != want) return false;
  if (gLen(a) != l0) return false;
  if (want > 1 && gLen(a + 1) != l1) return false;
  if (want > 2 && gLen(a + 2) != l2) return false;
  if (want > 3 && gLen(a + 3) != l3) return false;
  if (want > 4 && gLen(a + 4) != l4) return false;
  return true;
}

function prefixValue(n: i32): i32 {
  let v = 0;
  for (let j = 0; j < n; j++) v = v * 10 + digit(j);
  return v;
}

function luhn(n: i32): bool {
  let sum = 0;
  let double = false;
  for (let j = n - 1; j >= 0; j--) {
    let d = digit(j);
    if (double) {
      d <<= 1;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 == 0;
}

/** Issuer ranges and the lengths each network issues. */
function cardIssuerFits(n: i32): bool {
  const d1 = digit(0);
  const p2 = prefixValue(2);
  const p3 = prefixValue(3);
  const p4 = prefixValue(4);
  if (d1 == 4) return n == 13 || n == 16 || n == 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16;
  if (p2 == 34 || p2 == 37) return n == 15;
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
  if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) return n >= 14 && n <= 19;
  if (p2 == 62) return n >= 16 && n <= 19;
  if (p4 >= 2200 && p4 <= 2204) return n >= 16 && n <= 19;
  if (p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759) {
    return n >= 13 && n <= 19;
  }
  return false;
}

function isCard(a: i32, b: i32): bool {
  const n = digitCount;
  if (n < 13 || n > 19) return false;
  // Ungrouped, 17 and 18 digits are resident-ID shaped; grouped in fours they are the long
  // UnionPay and Maestro numbers.
  if ((n == 17 || n == 18) && b - a == 1) return false;
  if (b - a > 1) {
    if (!sameSeparator(a, b, 32, 45, 32)) return false;
    // Groups of four with a shorter tail, or the 4-6-5 / 4-6-4 layout of Amex and Diners.
    let fours = true;
    for (let k = a; k < b - 1; k++) if (gLen(k) != 4) fours = false;
    const grouped = fours || lengthsAre(a, b, 4, 6, 5, 0, 0) || lengthsAre(a, b, 4, 6, 4, 0, 0);
    if (!grouped) return false;
  }
  return cardIssuerFits(n) && luhn(n);
}

function daysInMonth(year: i32, month: i32): i32 {
  if (month == 2) return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28;
  return month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31;
}

// Province codes 11-91 as bits of a 128-bit set: bit p is set for each valid code p.
// 11-15 21-23 31-37 41-46 50-54 61-65 71 81-83 91.
const CN_PROVINCES_LOW: u64 = 0xe07c7e3f80e0f800;
const CN_PROVINCES_HIGH: u64 = 0x080e0083;

function isCnProvince(p: i32): bool {
  if (p < 64) return ((CN_PROVINCES_LOW >> <u64>p) & 1) != 0;
  return p < 128 && ((CN_PROVINCES_HIGH >> <u64>(p - 64)) & 1) != 0;
}

// ISO 7064 MOD 11-2 weights, 2^(17-i) mod 11 for i = 0..16.
const CN_WEIGHTS: usize = memory.data<u8>([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]);

/** GB 11643: province, birth date, sequence and an ISO 7064 MOD 11-2 check character. */
function isCnId(a: i32, b: i32): bool {
  if (b - a != 1) return false;
  const n = digitCount;
  const hasX = endsWithX && b == groupCount;
  if (!((n == 18 && !hasX) || (n == 17 && hasX))) return false;
  if (!isCnProvince(digit(0) * 10 + digit(1))) return false;
  const year = digit(6) * 1000 + digit(7) * 100 + digit(8) * 10 + digit(9);
  const month = digit(10) * 10 + digit(11);
  const day = digit(12) * 10 + digit(13);
  if (year < 1900 || year > 2099 || month < 1 || month > 12) return false;
  if (day < 1 || day > daysInMonth(year, month)) return false;
  let sum = 0;
  for (let j = 0; j < 17; j++) sum += digit(j) * <i32>load<u8>(CN_WEIGHTS + <usize>j);
  const check = (12 - (sum % 11)) % 11;
  return hasX ? check == 10 : check == digit(17);
}

function ssnRulesHold(): bool {
  const area = digit(0) * 100 + digit(1) * 10 + digit(2);
  const group = digit(3) * 10 + digit(4);
  const serial = digit(5) * 1000 + digit(6) * 100 + digit(7) * 10 + digit(8);
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return false;
  return true;
}

function isSsn(a: i32, b: i32): bool {
  if (digitCount != 9) return false;
  if (b - a == 3) {
    if (!lengthsAre(a, b, 3, 2, 4, 0, 0) || !sameSeparator(a, b, 45, 32, 45)) return false;
  } else if (b - a == 1) {
    if (!precededBy(gStart(a), 24, SSN_CONTEXT)) return false;
  } else {
    return false;
  }
  return ssnRulesHold();
}

function isIpv4(a: i32, b: i32): bool {
  if (b - a != 4 || !sameSeparator(a, b, 46, 46, 46)) return false;
  for (let k = a; k < b; k++) {
    const len = gLen(k);
    if (len > 3) return false;
    const s = gStart(k);
    if (len > 1 && at(s) == 48) return false;
    let v = 0;
    for (let i = s; i < gEnd(k); i++) v = v * 10 + at(i) - 48;
    if (v > 255) return false;
  }
  return !precededBy(gStart(a), 12, VERSION_CONTEXT);
}

/** Whether groups [a, b) are joined by spaces and hyphens only, as "08-123 456 78" is. */
function spacesAndHyphens(a: i32, b: i32): bool {
  for (let k = a; k < b - 1; k++) {
    const sep = sepAfter(k);
    if (sep != 32 && sep != 45) return false;
  }
  return true;
}

/** Whether groups [a, b) may be a phone number; `runStart` when `a` opens the digit run. */
function isPhone(a: i32, b: i32, runStart: bool): bool {
  // A phone read from the middle of a run ("54 048 249 229", an ABN) is cut out of a longer
  // number that is something else.
  if (!runStart) return false;
  const n = digitCount;
  const m = b - a;
  // North American: NXX NXX XXXX, optionally led by the country code 1.
  // Hyphens and dots make the 3-3-4 layout unmistakable; with spaces we also want NANP rules.
  // A trunk 0 is no area code: such a number goes on to the national rule below.
  if (
    n == 10 && m == 3 && digit(0) != 0 && lengthsAre(a, b, 3, 3, 4, 0, 0) &&
    sameSeparator(a, b, 45, 46, 32)
  ) {
    return sepAfter(a) != 32 || (digit(0) >= 2 && digit(3) >= 2);
  }
  if (n == 11 && m == 4 && lengthsAre(a, b, 1, 3, 3, 4, 0) && sameSeparator(a, b, 45, 46, 32)) {
    return digit(0) == 1 && (sepAfter(a) != 32 || (digit(1) >= 2 && digit(4) >= 2));
  }
  // Chinese mobile: 1[3-9]X XXXX XXXX.
  if (n == 11 && digit(0) == 1 && digit(1) >= 3) {
    if (m == 1) return true;
    if (m == 3 && lengthsAre(a, b, 3, 4, 4, 0, 0) && sameSeparator(a, b, 45, 32, 45)) return true;
  }
  // Written without separators, ten or eleven digits led by 0 are as often a reference, a PESEL
  // or an account number: only the classifier's context words can tell.
  if (digit(0) != 0 || digit(1) == 0) return false;
  // National numbers with a trunk 0 (UK, DE, FR, SE, ...): 0AA BBBB CCCC, 01 23 45 67 89,
  // 08-123 456 78 (an area code set off by a hyphen, the rest in spaces), 098765 43210.
  if (m >= 2 && m <= 5 && n >= 9 && n <= 12) {
    if (!sameSeparator(a, b, 32, 45, 46) && !spacesAndHyphens(a, b)) return false;
    const first = gLen(a);
    if (first < 2 || first > 6 || (first == 6 && m != 2)) return false;
    // 0XX-XX-XXXX is a US SSN's layout, not a dialling plan.
    if (lengthsAre(a, b, 3, 2, 4, 0, 0)) return false;
    let allFours = true;
    for (let k = a; k < b; k++) {
      if (gLen(k) < 2) return false;
      if (gLen(k) != 4) allFours = false;
    }
    // Blocks of four are card or account chunks, not a dialling plan.
    return !allFours;
  }
  return false;
}

/**
 * Classifies groups [a, b); emits and returns true on a match. `fresh` says that no other number
 * runs into `a`: it opens the run or follows a value just found. `checked` keeps to the types
 * whose checksum or rules leave no doubt (a resident ID, a card, an SSN): the readings that may
 * stand before the rest of a longer token, as an expiry, a CVV or a port stands after a card.
 */
function classify(a: i32, b: i32, fresh: bool, checked: bool = false): bool {
  // Only an IPv4 address (four groups) has fewer than nine digits; skip the rest unread.
  if (b - a != 4) {
    let n = 0;
    for (let k = a; k < b; k++) n += gLen(k);
    if (n < 9) return false;
  }
  if (!gatherDigits(a, b)) return false;
  const start = gStart(a);
  let end = gEnd(b - 1);
  const withX = endsWithX && b == groupCount;
  if (isCnId(a, b)) {
    emit(CN_ID, start, withX ? end + 1 : end, 980);
    return true;
  }
  if (withX) return false;
  if (isCard(a, b)) {
    emit(CREDIT_CARD, start, end, 970);
    return true;
  }
  if (isSsn(a, b)) {
    emit(US_SSN, start, end, 900);
    return true;
  }
  if (checked) return false;
  if (isIpv4(a, b)) {
    emit(IP_ADDRESS, start, end, 900);
    return true;
  }
  if (isPhone(a, b, fresh)) {
    emit(PHONE, start, end, 850);
    return true;
  }
  return false;
}

/** Scans the number starting at `s` (a digit at a number start); returns where to resume. */
export function scanNumber(s: i32): i32 {
  // Fast path for the common short number (`0`, `42`, `2024`): a lone run of fewer than nine
  // digits, not followed by a separator and a digit, cannot be any of our types.
  let run = s;
  while (isDigit(at(run))) run++;
  if (run - s < 9) {
    const c = at(run);
    const d = at(run + 1);
    const joined = (c == 32 || c == 45 || c == 46 || c == 47 || c == 58 || c == 44) && isDigit(d);
    // A block of four at a line's end may be the head of a card the line break splits.
    if (!joined && !(run - s == 4 && digitAfterBreak(run))) {
      return isWord(c) ? skipCompound(s) : run;
    }
  }
  const end = readGroups(s);
  if (end < 0) return skipCompound(s);
  const c = at(end);
  const d = at(end + 1);
  // The local part of an email address.
  if (c == 64) return end;
  // Dates, times, fractions and thousands: a number that runs on through / : or , is none of ours,
  // except an IPv4 address followed by its port.
  if ((c == 47 || c == 58 || c == 44) && isDigit(d)) {
    // An IPv4 address followed by its port or its CIDR prefix length.
    if ((c == 58 || c == 47) && isIpv4(0, groupCount)) {
      emit(IP_ADDRESS, s, end, 900);
      return end;
    }
    // The whole run may be a card, an SSN or a resident ID followed directly by its expiry, its
    // CVV or a port ("4111111111111111/12/27", "4111 1111 1111 1111:123"), unless its last
    // group after a space starts a date or a time.
    const last = groupCount - 1;
    const spaced = groupCount >= 2 && sepAfter(last - 1) == 32;
    if (!(spaced && startsDate(last, end)) && classify(0, groupCount, true, true)) return end;
    if (hyphenTail(0, last) && classify(0, last, true, true)) return end;
    // A date or a time after a space is a value of its own ("4111 1111 1111 1111 12/27",
    // "536-22-1234 05/12/1980", "+44 20 7946 0958 14:00"): only the last group belongs to it,
    // and the number before it is read without that group.
    if (!spaced) return skipCompound(s);
    groupCount = last;
    return scanGroups(gEnd(last - 1));
  }
  if (c == 10 || c == 13) {
    const wrapped = scanWrappedCard(end);
    if (wrapped > 0) return wrapped;
  }
  return scanGroups(end);
}

/** The length of the line break at `i` (`\n` or `\r\n`), or 0 when there is none. */
// @ts-ignore: decorator
@inline function lineBreakAt(i: i32): i32 {
  const c = at(i);
  if (c == 10) return 1;
  return c == 13 && at(i + 1) == 10 ? 2 : 0;
}

/** Whether a line break at `i` is followed directly by a digit. */
// @ts-ignore: decorator
@inline function digitAfterBreak(i: i32): bool {
  const n = lineBreakAt(i);
  return n > 0 && isDigit(at(i + n));
}

// @ts-ignore: decorator
@inline function isBlank(c: i32): bool {
  return c == 32 || c == 9;
}

/** Whether only blanks follow `i` on its line, and the line after starts with a digit. */
function aboveNumberRow(i: i32): bool {
  let p = i;
  while (isBlank(at(p))) p++;
  const n = lineBreakAt(p);
  if (n == 0) return false;
  p += n;
  while (isBlank(at(p))) p++;
  return isDigit(at(p));
}

/**
 * A card that one line break splits, as a message wrapped at its width leaves it: "card 4111
 * 1111\n1111 1111". The groups read (the head, ending at `end`, where the break is) continue
 * with the groups that start the next line (the tail) when together they are a card in its
 * printed layout: blocks of four with a shorter last one, or 4-6-5 and 4-6-4, with one kind of
 * space or hyphen between blocks besides the break, and more digits than the head holds alone.
 * Never across a blank line (the tail starts right after the break), nor over a line that starts
 * with a number (a row of a table); the card word that must stand before the head on its line
 * keeps the head off the start of a row.
 *
 * Two rows of a table of four-digit numbers take this layout, and about one such table in 27
 * also passes Luhn and an issuer's range, so the card is reported only where a card word stands
 * before it on its line (`cardWordBefore`). The scanner decides this itself, at its usual
 * confidence, rather than leaving a weak finding for the context words of the TypeScript layer:
 * `scan --file` prints the scanner's findings as they are and `classify()` keeps a card the
 * scanner found as it is, so both report the same card, and neither reports a bare one.
 *
 * Emits the card and returns its end, or returns -1 with the head's groups as they were read.
 */
function scanWrappedCard(end: i32): i32 {
  const head = groupCount;
  if (endsWithX || !digitAfterBreak(end) || !cardHeadFits(head)) return -1;
  store<i32>(separators + (<usize>(head - 1) << 2), 10);
  let cardEnd = readGroups(end + lineBreakAt(end), head);
  if (cardEnd >= 0 && at(cardEnd) != 64) {
    const c = at(cardEnd);
    // A date or a time after a space is a value of its own ("... 1111 12/27").
    if ((c == 47 || c == 58 || c == 44) && isDigit(at(cardEnd + 1))) {
      const last = groupCount - 1;
      cardEnd = last > head && sepAfter(last - 1) == 32 && startsDate(last, cardEnd)
        ? gEnd(last - 1)
        : -1;
      if (cardEnd >= 0) groupCount = last;
    }
    if (cardEnd >= 0 && !aboveNumberRow(cardEnd) && cardWordBefore(gStart(0))) {
      // The tail's line may end in a CVV after a space ("... 1111 123").
      const read = groupCount;
      for (let count = read; count > head; count--) {
        const dropsCvv = count == read - 1 && sepAfter(count - 1) == 32 && gLen(count) <= 3;
        if (count < read && !dropsCvv) continue;
        groupCount = count;
        if (wrappedCardFits(head)) {
          const cut = count == read ? cardEnd : gEnd(count - 1);
          emit(CREDIT_CARD, gStart(0), cut, 970);
          return cut;
        }
      }
    }
  }
  groupCount = head;
  store<i32>(separators + (<usize>(head - 1) << 2), 0);
  endsWithX = false;
  return -1;
}

/**
 * Whether groups [0, head) may be the first line of a card printed over two: 4, 4-4 or 4-4-4
 * (blocks of four before the last), or 4-6 (Amex and Diners). A line of more groups or digits
 * is a value of its own, and the tail's groups are read after these, within MAX_GROUPS.
 */
function cardHeadFits(head: i32): bool {
  if (head > 3 || gLen(0) != 4) return false;
  if (head == 1) return true;
  const second = gLen(1);
  if (head == 2) return second == 4 || second == 6;
  return second == 4 && gLen(2) == 4;
}

// Words that name a payment card, in lowercase: every card word of the TypeScript layer
// (`CONTEXT_WORDS.credit_card` in safeclaw/privacy/context.ts; a test there holds this list to
// it), with the networks' names, "payment", "cc" and "pan" (primary account number), and the
// word for a card in more languages. ASCII words start a word, and those of four letters or more
// may go on ("cards", "Kartennummer"); "cc", "pan" and "jcb" also end one. A word in another
// script may stand inside a longer word ("البطاقة" holds "بطاقة").
const CARD_WORDS: string[] = [
  "card",
  "credit",
  "debit",
  "visa",
  "mastercard",
  "amex",
  "maestro",
  "unionpay",
  "diners",
  "jcb",
  "payment",
  "cc",
  "pan",
  // German "Karte" and "Kartennummer", Polish and Czech "karta" and "karty".
  "kart",
  "kredit",
  "carte",
  "carta",
  "cartão",
  "tarjeta",
  "卡号",
  "信用卡",
  "カード",
  "بطاقة",
  "ائتمان",
  "کارت",
];

// How far before a card's first digit its card word may start, in bytes (the TypeScript
// layer's context words reach 48 code units back).
const CARD_WORD_REACH: i32 = 48;

/** Whether `c` may stand between the digits of a number: a space, `.`, `-`, `(` or `)`. */
// @ts-ignore: decorator
@inline function isNumberJoint(c: i32): bool {
  return c == 32 || c == 46 || c == 45 || c == 40 || c == 41;
}

/**
 * Whether a card word stands before `s` on its line: within CARD_WORD_REACH bytes, and not
 * before the end of a sentence (`;`, `!`, `?`, or `.` and a capital after a blank) or another
 * number of four digits or more. A label belongs to the value right after it, as in the
 * TypeScript layer's `hasContext`, so "card 4111 1111 1111 1111, order 4802 2873\n7719 7103"
 * lends the order number nothing.
 */
function cardWordBefore(s: i32): bool {
  const limit = s > CARD_WORD_REACH ? s - CARD_WORD_REACH : 0;
  let from = s;
  let digits = 0;
  while (from > limit) {
    const c = at(from - 1);
    if (c == 10 || c == 13 || c == 59 || c == 33 || c == 63) break;
    if (c == 46 && isBlank(at(from)) && isUpper(at(from + 1))) break;
    if (isDigit(c)) {
      digits++;
      if (digits == 4) break;
    } else if (!(digits > 0 && isNumberJoint(c) && isDigit(at(from - 2)))) {
      digits = 0;
    }
    from--;
  }
  for (let p = from; p < s; p++) {
    for (let w = 0; w < CARD_WORDS.length; w++) {
      const word = unchecked(CARD_WORDS[w]);
      const n = utf8WordAt(p, word);
      if (n == 0) continue;
      if (word.charCodeAt(0) < 0x80) {
        if (isAlnum(at(p - 1))) continue;
        if (word.length < 4 && isAlnum(at(p + n))) continue;
      }
      return true;
    }
  }
  return false;
}

/** Whether the groups read, split by a line break after group `head - 1`, are a valid card. */
function wrappedCardFits(head: i32): bool {
  const count = groupCount;
  if (count < 3) return false;
  let sep = 0;
  for (let k = 0; k < count - 1; k++) {
    if (k == head - 1) continue;
    const s = sepAfter(k);
    if (s != 32 && s != 45) return false;
    if (sep == 0) sep = s;
    else if (s != sep) return false;
  }
  let fours = gLen(count - 1) <= 4;
  for (let k = 0; k < count - 1; k++) if (gLen(k) != 4) fours = false;
  if (!fours && !lengthsAre(0, count, 4, 6, 5, 0, 0) && !lengthsAre(0, count, 4, 6, 4, 0, 0)) {
    return false;
  }
  if (!gatherDigits(0, count)) return false;
  const n = digitCount;
  return n >= 14 && n <= 19 && cardIssuerFits(n) && luhn(n);
}

/**
 * Whether group `k` and what follows it from `end` ("/" or ":" and digits) read as a date or a
 * time: a day, a month or an hour, then one or two digits, or a year after "/" ("12/27",
 * "5/12/1980", "10:30", "09/2027").
 */
function startsDate(k: i32, end: i32): bool {
  if (gLen(k) > 2) return false;
  let i = end + 1;
  while (isDigit(at(i))) i++;
  const n = i - end - 1;
  return n <= 2 || (n == 4 && at(end) == 47);
}

/** Whether groups [a, b) contain no hyphen between them. */
function noHyphen(a: i32, b: i32): bool {
  for (let k = a; k < b - 1; k++) if (sepAfter(k) == 45) return false;
  return true;
}

/**
 * Whether groups [a, b) may be a value set off by a hyphen from the run's last group of one to
 * four digits, as a CVV or an expiry is ("4111111111111111-123", "536 22 1234-1980"). A value
 * that uses hyphens itself reads on through the last one ("536-22-1234-5678" and
 * "4111-1111-1111-1111-1234" are one number each), except a card's blocks before a group
 * shorter than a block: "4111-1111-1111-1111-123".
 */
function hyphenTail(a: i32, b: i32): bool {
  if (b < 1 || b != groupCount - 1 || sepAfter(b - 1) != 45) return false;
  const tail = gLen(b);
  if (noHyphen(a, b)) return tail <= 4;
  return tail <= 3 && b - a >= 3 && gLen(a) == 4;
}

/** Classifies the spans of the groups read, which end at `end`; returns where to resume. */
function scanGroups(end: i32): i32 {
  // Four blocks of four read as a card: when that card is invalid, none of its blocks is
  // anything else either.
  if (groupCount >= 4 && lengthsAre(0, 4, 4, 4, 4, 4, 0) && sameSeparator(0, 4, 32, 45, 32)) {
    for (let b = groupCount < 5 ? groupCount : 5; b >= 4; b--) {
      if ((b == groupCount || sepAfter(b - 1) == 32) && classify(0, b, true)) return gEnd(b - 1);
      // A card in blocks with its CVV set off by a hyphen: "4111 1111 1111 1111-123".
      if (hyphenTail(0, b) && classify(0, b, true, true)) return end;
    }
    return end;
  }
  let a = 0;
  let fresh = true;
  while (a < groupCount) {
    let matched = false;
    for (let b = groupCount; b > a; b--) {
      // Spans end at a space, or before a hyphen that sets off a CVV or an expiry.
      const tail = b < groupCount && sepAfter(b - 1) != 32;
      if (tail && !hyphenTail(a, b)) continue;
      if (classify(a, b, fresh, tail)) {
        a = b;
        matched = true;
        break;
      }
    }
    fresh = matched;
    if (matched) continue;
    // The next span may only start after a space.
    a++;
    while (a < groupCount && sepAfter(a - 1) != 32) a++;
  }
  return end;
}

/** A parenthesised area code: `(415) 555-2671`, `(020) 7946 0958`. */
export function scanParenPhone(s: i32): i32 {
  if (isAlnum(at(s - 1))) return -1;
  let i = s + 1;
  while (isDigit(at(i))) i++;
  const areaLen = i - s - 1;
  if (areaLen < 2 || areaLen > 5 || at(i) != 41) return -1;
  i++;
  if (at(i) == 32) i++;
  if (!isDigit(at(i))) return -1;
  const groupsEnd = readGroups(i);
  if (groupsEnd < 0) return -1;
  // A card printed over two lines after a bracketed number: its head is no phone's.
  if (at(groupsEnd) == 10 || at(groupsEnd) == 13) {
    const wrapped = scanWrappedCard(groupsEnd);
    if (wrapped > 0) return wrapped;
  }
  // A card after a bracketed number ("item (01) 4111 1111 1111 1111") is the value, and its
  // first groups no phone's: the number scan that resumes at its digits reads it.
  if (leadsWithCard()) return -1;
  // Four blocks of four or more are an account's or a card's, not a dialling plan (as isPhone).
  if (groupCount > 3) {
    let fours = true;
    for (let k = 0; k < groupCount; k++) if (gLen(k) != 4) fours = false;
    if (fours) return -1;
  }
  // Groups after a space may belong to the words after the number ("(415) 555-2671 100
  // times"), as they may after a plain number: the number is read without them when it only
  // fits a phone's layout so.
  for (let k = groupCount; k >= 1; k--) {
    if (k < groupCount && sepAfter(k - 1) != 32) continue;
    const confidence = parenPhoneConfidence(s, areaLen, k);
    if (confidence > 0) {
      emit(PHONE, s, gEnd(k - 1), confidence);
      return gEnd(k - 1);
    }
  }
  return -1;
}

/** Whether groups [0, k) of the groups read are a payment card, for some k. */
function leadsWithCard(): bool {
  for (let k = groupCount; k >= 1; k--) {
    if (gatherDigits(0, k) && isCard(0, k)) return true;
  }
  return false;
}

/**
 * The confidence, in thousandths, that the area code of `areaLen` digits in brackets at `s` and
 * groups [0, k) after it are a phone number; 0 when they are not.
 */
function parenPhoneConfidence(s: i32, areaLen: i32, k: i32): i32 {
  // An area code with a trunk 0 and one block: "(0141) 4960613", "(030) 12345678".
  if (k == 1) {
    const total = areaLen + gLen(0);
    return at(s + 1) == 48 && gLen(0) >= 5 && total >= 9 && total <= 12 ? 800 : 0;
  }
  if (k != 2) return 0;
  const l0 = gLen(0);
  const l1 = gLen(1);
  if (areaLen == 3 && l0 == 3 && l1 == 4) return 850;
  const total = areaLen + l0 + l1;
  return at(s + 1) == 48 && total >= 10 && total <= 11 && l0 >= 3 && l1 >= 3 ? 800 : 0;
}

/** International numbers: `+44 20 7946 0958`, `+1 (415) 555-2671`, `+8613800138000`. */
export function scanPlusPhone(s: i32): i32 {
  if (isAlnum(at(s - 1)) || !isDigit(at(s + 1)) || at(s + 1) == 48) return -1;
  let i = s + 1;
  let digits = 0;
  let groups = 0;
  let longest = 0;
  // Where the previous group ends when the last one followed it after a space, else -1.
  let beforeSpace = -1;
  let lastDigits = 0;
  while (true) {
    const groupStart = i;
    const digitsBefore = digits;
    if (at(i) == 40) {
      const open = i;
      i++;
      while (isDigit(at(i))) i++;
      if (at(i) != 41 || i - open - 1 < 1 || i - open - 1 > 4) return -1;
      digits += i - open - 1;
      i++;
    } else {
      const start = i;
      while (isDigit(at(i))) i++;
      const len = i - start;
      if (len == 0) return -1;
      if (len > longest) longest = len;
      digits += len;
    }
    groups++;
    lastDigits = digits - digitsBefore;
    beforeSpace = groups > 1 && at(groupStart - 1) == 32 ? groupStart - 1 : -1;
    const c = at(i);
    const d = at(i + 1);
    if ((c == 32 || c == 45 || c == 46) && (isDigit(d) || d == 40)) {
      i++;
      continue;
    }
    if (c == 40 && groups == 1) continue;
    // A trunk prefix in brackets may run straight into the number: +49 (0)30 1234567.
    if (isDigit(c) && at(i - 1) == 41) continue;
    break;
  }
  const c = at(i);
  if (isWord(c)) return skipCompound(s + 1);
  if ((c == 47 || c == 58 || c == 44 || c == 46 || c == 45) && isDigit(at(i + 1))) {
    // A date or a time after a space ("+44 20 7946 0958 14:00") is not part of the number.
    if (beforeSpace < 0 || c == 46 || c == 45) return skipCompound(s + 1);
    i = beforeSpace;
    digits -= lastDigits;
    groups--;
  }
  if (digits < 8 || digits > 15) return i;
  if (groups > 2 && longest > 10) return i;
  emit(PHONE, s, i, 900);
  return i;
}
