// Secrets: provider keys recognised by their prefixes, JWTs, PEM private keys, credentials in
// URLs, and high-entropy values assigned to key-like names.

import {
  at,
  C_VALUE,
  classOf,
  containsFold,
  isAlnum,
  isAlpha,
  isDigit,
  isHex,
  isLower,
  isTokenChar,
  isUpper,
  isWord,
  lower,
  startsWith,
  startsWithFold,
  textLen,
  textPtr,
} from "./text";
import { emit, SECRET } from "./findings";

const counts: usize = memory.data(128 * 4);
const MAX_TABLE: i32 = 256;
// k * log2(k) for k in [0, 256], so entropy needs no logarithm per character class.
const kLogK: usize = memory.data(8 * (MAX_TABLE + 1));
let kLogKReady = false;

function klogk(k: i32): f64 {
  if (k > MAX_TABLE) return <f64>k * Math.log2(<f64>k);
  if (!kLogKReady) {
    for (let j = 1; j <= MAX_TABLE; j++) {
      store<f64>(kLogK + (<usize>j << 3), <f64>j * Math.log2(<f64>j));
    }
    kLogKReady = true;
  }
  return load<f64>(kLogK + (<usize>k << 3));
}

/** Shannon entropy in bits per character of `[start, end)` (ASCII only). */
function entropy(start: i32, end: i32): f64 {
  for (let i = start; i < end; i++) {
    const p = counts + (<usize>(at(i) & 127) << 2);
    store<i32>(p, load<i32>(p) + 1);
  }
  // H = log2(n) - sum(k log2 k) / n; each class is read once and cleared for the next call.
  let sum = 0.0;
  for (let i = start; i < end; i++) {
    const p = counts + (<usize>(at(i) & 127) << 2);
    const k = load<i32>(p);
    if (k > 0) {
      sum += klogk(k);
      store<i32>(p, 0);
    }
  }
  const n = end - start;
  return (klogk(n) - sum) / <f64>n;
}

// Placeholder words by their first four characters, four bytes packed little-endian.
// OR-ing 0x20 into every byte folds ASCII capitals and leaves digits, '*' and '.' unchanged.
const W_YOUR: u32 = 0x72756f79; // your
const W_XXXX: u32 = 0x78787878; // xxxx
const W_EXAM: u32 = 0x6d617865; // exam
const W_PLAC: u32 = 0x63616c70; // plac
const W_DUMM: u32 = 0x6d6d7564; // dumm
const W_REDA: u32 = 0x61646572; // reda
const W_REPL: u32 = 0x6c706572; // repl
const W_CHAN: u32 = 0x6e616863; // chan
const W_INSE: u32 = 0x65736e69; // inse
const W_SAMP: u32 = 0x706d6173; // samp
const W_FAKE: u32 = 0x656b6166; // fake
const W_STARSTARSTARSTAR: u32 = 0x2a2a2a2a; // ****
const FOLD4: u32 = 0x20202020;
const DOTS: u32 = 0x002e2e2e;

/** Whether a placeholder word starts at `i` (needs four bytes of text from `i`). */
// @ts-ignore: decorator
@inline function placeholderAt(i: i32): bool {
  const w = load<u32>(textPtr + <usize>i) | FOLD4;
  if (w == W_YOUR || w == W_XXXX || w == W_FAKE || w == W_STARSTARSTARSTAR) return true;
  if ((w & 0xffffff) == DOTS) return true;
  // Longer words are confirmed in full only when their first four characters match.
  if (w == W_EXAM) return startsWithFold(i, "example");
  if (w == W_PLAC) return startsWithFold(i, "placeholder");
  if (w == W_DUMM) return startsWithFold(i, "dummy");
  if (w == W_REDA) return startsWithFold(i, "redacted");
  if (w == W_REPL) return startsWithFold(i, "replace");
  if (w == W_CHAN) return startsWithFold(i, "changeme");
  if (w == W_INSE) return startsWithFold(i, "insert");
  if (w == W_SAMP) return startsWithFold(i, "sample");
  return false;
}

function isPlaceholder(start: i32, end: i32): bool {
  // A run of six equal characters is a mask, not a key.
  let run = 1;
  for (let i = start; i < end; i++) {
    const c = at(i);
    if (c == 60 || c == 62 || ((c == 36 || c == 123) && at(i + 1) == 123)) return true;
    if (i + 4 <= end && placeholderAt(i)) return true;
    if (i + 3 == end && c == 46 && at(i + 1) == 46 && at(i + 2) == 46) return true;
    if (i > start) {
      run = c == at(i - 1) ? run + 1 : 1;
      if (run >= 6) return true;
    }
  }
  return false;
}

/** Character classes present: lower, upper, digit, other. */
function classCount(start: i32, end: i32): i32 {
  let lowerSeen = 0;
  let upperSeen = 0;
  let digitSeen = 0;
  let otherSeen = 0;
  for (let i = start; i < end; i++) {
    const c = at(i);
    if (isLower(c)) lowerSeen = 1;
    else if (isUpper(c)) upperSeen = 1;
    else if (isDigit(c)) digitSeen = 1;
    else otherSeen = 1;
  }
  return lowerSeen + upperSeen + digitSeen + otherSeen;
}

function hasDigitAndLetter(start: i32, end: i32): bool {
  let d = false;
  let a = false;
  for (let i = start; i < end; i++) {
    const c = at(i);
    if (isDigit(c)) d = true;
    else if (isAlpha(c)) a = true;
  }
  return d && a;
}

function isAllHex(start: i32, end: i32): bool {
  for (let i = start; i < end; i++) if (!isHex(at(i))) return false;
  return true;
}

/** Letters only, long, and with capitals spread like random text rather than camelCase words. */
function isMixedCaseRandom(start: i32, end: i32): bool {
  const len = end - start;
  if (len < 20) return false;
  let upper = 0;
  for (let i = start; i < end; i++) {
    const c = at(i);
    if (!isAlpha(c)) return false;
    if (isUpper(c)) upper++;
  }
  return upper * 4 >= len && upper * 4 <= len * 3;
}

function alnumRun(i: i32): i32 {
  while (isAlnum(at(i))) i++;
  return i;
}

function wordRun(i: i32): i32 {
  while (isWord(at(i))) i++;
  return i;
}

// Token runs already read, as slots of [from, end): a run read from any position in
// [from, end] ends at `end`. Every candidate inside one long run asks for that same end (each
// `sk-` of `sk-sk-sk-…`, each `eyJ` of a long header for its three segments), and reading the
// run again for each made a scan quadratic in the run's length. Four slots hold the most any
// one candidate asks for, so the candidates of one run never evict its segments.
const RUN_SLOTS: i32 = 4;
const runFroms: usize = memory.data(RUN_SLOTS * 4);
const runEnds: usize = memory.data(RUN_SLOTS * 4);
let nextRunSlot: i32 = 0;

function tokenRun(i: i32): i32 {
  for (let k = 0; k < RUN_SLOTS; k++) {
    const end = load<i32>(runEnds + (<usize>k << 2));
    if (i <= end && i >= load<i32>(runFroms + (<usize>k << 2))) return end;
  }
  let end = i;
  while (isTokenChar(at(end))) end++;
  store<i32>(runFroms + (<usize>nextRunSlot << 2), i);
  store<i32>(runEnds + (<usize>nextRunSlot << 2), end);
  nextRunSlot = (nextRunSlot + 1) & (RUN_SLOTS - 1);
  return end;
}

// What an `xox*-` token needs of its run, read once per run from `slackFrom` to the run's end
// `slackEnd`: the last digit, the last letter and the last place a placeholder starts. A token's
// body is a suffix of the run, so it holds a digit exactly when the run's last digit lies in it,
// and likewise a letter and a placeholder; every `xoxb-` of `xoxb-xoxb-…` is then judged without
// reading the run again, as reading it for each made the scan quadratic (the token has no
// maximum length to stop at).
let slackFrom: i32 = 0;
let slackEnd: i32 = -1;
let slackLastDigit: i32 = -1;
let slackLastLetter: i32 = -1;
let slackLastPlaceholder: i32 = -1;

/** Fills the `slack*` summary of the token run `[from, end)`. */
function readSlackRun(from: i32, end: i32): void {
  let digit = -1;
  let letter = -1;
  let placeholder = -1;
  let run = 1;
  for (let i = from; i < end; i++) {
    const c = at(i);
    if (isDigit(c)) digit = i;
    else if (isAlpha(c)) letter = i;
    // The run holds token characters only, so of `isPlaceholder`'s tests only a placeholder
    // word and six equal characters can hold; each is recorded where it starts.
    if (i > from) {
      run = c == at(i - 1) ? run + 1 : 1;
      if (run >= 6) placeholder = i - 5;
    }
    if (i + 4 <= end && placeholderAt(i)) placeholder = i;
  }
  slackFrom = from;
  slackEnd = end;
  slackLastDigit = digit;
  slackLastLetter = letter;
  slackLastPlaceholder = placeholder;
}

/** The `xox*-` and `xapp-` token at `s`, its body from `s + 5`: its end, or -1. */
function scanSlackToken(s: i32): i32 {
  const body = s + 5;
  const end = tokenRun(body);
  if (end - s < 20) return -1;
  if (body < slackFrom || body > slackEnd || end != slackEnd) readSlackRun(body, end);
  // `hasDigitAndLetter(body, end)` and `isPlaceholder(body, end)`, from the run's summary.
  if (slackLastDigit < body || slackLastLetter < body) return -1;
  if (slackLastPlaceholder >= body) return -1;
  emit(SECRET, s, end, 980);
  return end;
}

function upperDigitRun(i: i32): i32 {
  while (isUpper(at(i)) || isDigit(at(i))) i++;
  return i;
}

// The last body `accept` judged and its answer: every `eyJ` of a long header shares one
// signature, which would otherwise be read again for each.
let judgedStart: i32 = -1;
let judgedEnd: i32 = -1;
let judgedPlaceholder = false;

function accept(start: i32, bodyStart: i32, end: i32, confidence: i32): i32 {
  if (bodyStart != judgedStart || end != judgedEnd) {
    judgedStart = bodyStart;
    judgedEnd = end;
    judgedPlaceholder = isPlaceholder(bodyStart, end);
  }
  if (judgedPlaceholder) return -1;
  emit(SECRET, start, end, confidence);
  return end;
}

function jwtSegmentEnd(i: i32): i32 {
  const end = tokenRun(i);
  return end - i >= 8 ? end : -1;
}

/**
 * A key of a fixed shape after its prefix (`body` at `s + prefixLen`): an alphanumeric run (hex
 * only when `hex`) of `lo` to `hi` characters that no word character continues, random enough
 * to be a key rather than a name. Returns the end, or -1.
 */
function fixedKey(s: i32, prefixLen: i32, lo: i32, hi: i32, hex: bool, confidence: i32): i32 {
  const body = s + prefixLen;
  const end = alnumRun(body);
  const len = end - body;
  if (len < lo || len > hi || isWord(at(end))) return -1;
  if (hex ? !isAllHex(body, end) : !looksRandom(s, body, end)) return -1;
  return accept(s, body, end, confidence);
}

/**
 * Whether a key's body is random enough. `hf_` and `npm_` also begin identifiers and variable
 * names (`hf_hub_download`, `npm_config_cache`), so there the body must read as generated too.
 */
function looksRandom(s: i32, body: i32, end: i32): bool {
  if (startsWith(s, "hf_") || startsWith(s, "npm_")) return looksGenerated(body, end);
  return classCount(body, end) >= 2 && entropy(body, end) >= 3.0;
}

/**
 * Whether `[start, end)` reads as a generated key rather than an identifier: random enough, with
 * its letters' capitals neither rare (camelCase: `hf_HubDownloadManagerConfiguration`) nor
 * nearly all (a constant's name).
 */
function looksGenerated(start: i32, end: i32): bool {
  let letters = 0;
  let upper = 0;
  for (let i = start; i < end; i++) {
    const c = at(i);
    if (isAlpha(c)) letters++;
    if (isUpper(c)) upper++;
  }
  return letters > 0 && upper * 4 >= letters && upper * 4 <= letters * 3 &&
    entropy(start, end) >= 3.0;
}

/** Provider keys and JWTs, at the start of a word. Returns the end, or -1. */
export function scanPrefixedSecret(s: i32, c: i32): i32 {
  if (c == 65 /* A */) {
    if (
      startsWith(s, "AKIA") || startsWith(s, "ASIA") || startsWith(s, "AGPA") ||
      startsWith(s, "AIDA") || startsWith(s, "AROA") || startsWith(s, "ANPA") ||
      startsWith(s, "AIPA") || startsWith(s, "ANVA") || startsWith(s, "ABIA") ||
      startsWith(s, "ACCA")
    ) {
      const end = upperDigitRun(s + 4);
      if (end - s != 20 || isWord(at(end))) return -1;
      return accept(s, s + 4, end, 990);
    }
    if (startsWith(s, "AIza")) {
      const end = tokenRun(s + 4);
      if (end - s != 39) return -1;
      return accept(s, s + 4, end, 990);
    }
    return -1;
  }
  if (c == 103 /* g */) {
    // GitLab personal, project and group tokens; Groq keys.
    if (startsWith(s, "glpat-") || startsWith(s, "glptt-") || startsWith(s, "gldt-")) {
      const body = at(s + 4) == 45 ? s + 5 : s + 6;
      const end = tokenRun(body);
      if (end - body < 20 || end - body > 80 || isWord(at(end))) return -1;
      if (classCount(body, end) < 2 || entropy(body, end) < 3.0) return -1;
      return accept(s, body, end, 980);
    }
    if (startsWith(s, "gsk_")) return fixedKey(s, 4, 52, 52, false, 980);
    if (
      startsWith(s, "ghp_") || startsWith(s, "gho_") || startsWith(s, "ghu_") ||
      startsWith(s, "ghs_") || startsWith(s, "ghr_")
    ) {
      const end = alnumRun(s + 4);
      if (end - s < 40 || end - s > 44 || isWord(at(end))) return -1;
      return accept(s, s + 4, end, 990);
    }
    if (startsWith(s, "github_pat_")) {
      const end = wordRun(s + 11);
      if (end - s < 70 || end - s > 100) return -1;
      return accept(s, s + 11, end, 990);
    }
    return -1;
  }
  if (c == 104 /* h */ && startsWith(s, "hf_")) {
    // Hugging Face access tokens: "hf_" and 34 letters (digits in newer ones).
    return fixedKey(s, 3, 34, 37, false, 980);
  }
  if (c == 110 /* n */ && startsWith(s, "npm_")) return fixedKey(s, 4, 36, 36, false, 980);
  if (c == 100 /* d */) {
    // DigitalOcean personal, OAuth and refresh tokens.
    if (startsWith(s, "dop_v1_") || startsWith(s, "doo_v1_") || startsWith(s, "dor_v1_")) {
      return fixedKey(s, 7, 64, 64, true, 980);
    }
    return -1;
  }
  if (c == 83 /* S */ && startsWith(s, "SG.")) {
    // SendGrid: "SG.", 22 characters, ".", 43.
    const idEnd = tokenRun(s + 3);
    if (idEnd - s != 25 || at(idEnd) != 46) return -1;
    const end = tokenRun(idEnd + 1);
    if (end - idEnd - 1 != 43 || isWord(at(end))) return -1;
    if (entropy(idEnd + 1, end) < 3.0) return -1;
    return accept(s, idEnd + 1, end, 980);
  }
  if (c == 114 /* r */ && startsWith(s, "r8_")) return fixedKey(s, 3, 37, 37, false, 980);
  if (c == 115 /* s */ && startsWith(s, "shp")) {
    // Shopify access, custom-app, private-app and shared-secret tokens.
    if (
      startsWith(s, "shpat_") || startsWith(s, "shpca_") || startsWith(s, "shppa_") ||
      startsWith(s, "shpss_")
    ) return fixedKey(s, 6, 32, 32, true, 980);
    return -1;
  }
  if (c == 112 /* p */ && startsWith(s, "pplx-")) {
    // Perplexity's keys may be lower case: digits and letters, random, not the capitals test.
    const end = alnumRun(s + 5);
    if (end - s != 53 || isWord(at(end))) return -1;
    if (!hasDigitAndLetter(s + 5, end) || entropy(s + 5, end) < 3.0) return -1;
    return accept(s, s + 5, end, 980);
  }
  if (c == 112 /* p */ && startsWith(s, "pypi-AgEIcHlwaS5vcmc")) {
    const end = tokenRun(s + 5);
    // Real tokens run to about 220 characters; the cap keeps a hostile run of prefixes linear.
    if (end - s < 70 || end - s > 400 || isWord(at(end))) return -1;
    return accept(s, s + 20, end, 990);
  }
  if (c == 120 /* x */ && startsWith(s, "xai-")) return fixedKey(s, 4, 80, 80, false, 980);
  if (c == 115 /* s */ || c == 112 /* p */ || c == 114 /* r */) {
    if (startsWith(s + 1, "k_live_") || startsWith(s + 1, "k_test_")) {
      const end = alnumRun(s + 8);
      if (end - s < 24 || isWord(at(end))) return -1;
      if (!hasDigitAndLetter(s + 8, end)) return -1;
      return accept(s, s + 8, end, 980);
    }
    if (c == 115 && startsWith(s, "sk-")) {
      const end = tokenRun(s + 3);
      const anthropic = startsWith(s, "sk-ant-");
      const body = anthropic ? s + 7 : s + 3;
      const minimum = anthropic ? 32 : 20;
      // Project and service-account keys (`sk-proj-`, `sk-svcacct-`) run to 160 characters
      // and more; the cap only stops a run of dashes and letters that no key is.
      if (end - body < minimum || end - s > 512) return -1;
      if (!hasDigitAndLetter(body, end) || entropy(body, end) < 3.0) return -1;
      return accept(s, body, end, anthropic ? 990 : 970);
    }
    return -1;
  }
  if (c == 120 /* x */) {
    if (
      startsWith(s, "xoxb-") || startsWith(s, "xoxp-") || startsWith(s, "xoxa-") ||
      startsWith(s, "xoxo-") || startsWith(s, "xoxs-") || startsWith(s, "xoxr-") ||
      startsWith(s, "xoxe-") || startsWith(s, "xapp-")
    ) {
      return scanSlackToken(s);
    }
    return -1;
  }
  if (c == 101 /* e */ && startsWith(s, "eyJ")) {
    const headerEnd = jwtSegmentEnd(s);
    if (headerEnd < 0 || at(headerEnd) != 46) return -1;
    const payloadEnd = jwtSegmentEnd(headerEnd + 1);
    if (payloadEnd < 0 || at(payloadEnd) != 46) return -1;
    const end = jwtSegmentEnd(payloadEnd + 1);
    if (end < 0 || (at(end) == 46 && isTokenChar(at(end + 1)))) return -1;
    return accept(s, payloadEnd + 1, end, 960);
  }
  return -1;
}

function lineEnd(i: i32, limit: i32): i32 {
  const stop = i + limit < textLen ? i + limit : textLen;
  while (i < stop && at(i) != 10) i++;
  return i;
}

function findFrom(i: i32, limit: i32, s: string): i32 {
  const stop = i + limit < textLen ? i + limit : textLen;
  const first = <i32>s.charCodeAt(0);
  for (; i < stop; i++) if (at(i) == first && startsWith(i, s)) return i;
  return -1;
}

// What the footer searches have learnt: no `-----END ` starts in [footerFrom, footerTo), and
// one starts at footerTo when footerFound. Headers with no footer (`-----BEGIN PRIVATE
// KEY-----` repeated) each searched the same 64 KB again; each now goes on where the last
// stopped.
let footerFrom: i32 = 0;
let footerTo: i32 = 0;
let footerFound = false;

/** `findFrom(i, limit, "-----END ")`, reading no part of the text twice across a scan. */
function findFooter(i: i32, limit: i32): i32 {
  const stop = i + limit < textLen ? i + limit : textLen;
  if (i < footerFrom || i > footerTo) {
    footerFrom = i;
    footerTo = i;
    footerFound = false;
  }
  if (footerFound) return footerTo < stop ? footerTo : -1;
  const found = findFrom(footerTo, stop - footerTo, "-----END ");
  footerFound = found >= 0;
  if (found >= 0) footerTo = found;
  else if (stop > footerTo) footerTo = stop;
  return found;
}

/** Forgets what the last text's scan learnt; called before each scan. */
export function resetSecrets(): void {
  for (let k = 0; k < RUN_SLOTS; k++) {
    store<i32>(runFroms + (<usize>k << 2), 0);
    store<i32>(runEnds + (<usize>k << 2), -1);
  }
  slackFrom = 0;
  slackEnd = -1;
  judgedStart = -1;
  judgedEnd = -1;
  footerFrom = 0;
  footerTo = 0;
  footerFound = false;
}

/** `-----BEGIN ... PRIVATE KEY-----` through its END line. */
export function scanPem(s: i32): i32 {
  if (!startsWith(s, "-----BEGIN ")) return -1;
  const headerLineEnd = lineEnd(s, 80);
  const label = findFrom(s + 11, headerLineEnd - s - 11, "PRIVATE KEY");
  if (label < 0) return -1;
  const headerEnd = findFrom(label, headerLineEnd - label, "-----");
  if (headerEnd < 0) return -1;
  const footer = findFooter(headerEnd + 5, 65536);
  if (footer < 0) return -1;
  // Four characters are all the body needs; counting on would read up to the footer again.
  let body = 0;
  for (let i = headerEnd + 5; i < footer && body < 4; i++) if (at(i) > 32) body++;
  if (body < 4) return -1;
  const footerLineEnd = lineEnd(footer, 80);
  const close = findFrom(footer + 9, footerLineEnd - footer - 9, "-----");
  if (close < 0) return -1;
  emit(SECRET, s, close + 5, 990);
  return close + 5;
}

// @ts-ignore: decorator
@inline function isUserInfoChar(c: i32): bool {
  // unreserved, sub-delims and percent-encoding, minus ':' and '@'
  return isAlnum(c) || c == 45 || c == 46 || c == 95 || c == 126 || c == 37 || c == 33 ||
    c == 36 || c == 38 || c == 39 || c == 42 || c == 43 || c == 44 || c == 59 || c == 61;
}

// @ts-ignore: decorator
@inline function isUrlChar(c: i32): bool {
  return c > 32 && c < 127 && c != 34 && c != 39 && c != 60 && c != 62 && c != 96 && c != 123 &&
    c != 125 && c != 124 && c != 92 && c != 94;
}

// @ts-ignore: decorator
@inline function isTrailingPunctuation(c: i32): bool {
  return c == 46 || c == 44 || c == 59 || c == 58 || c == 33 || c == 63 || c == 41 || c == 93;
}

const WEAK_URL_PASSWORDS: string[] = ["password", "pass", "passwd", "secret", "pwd", "xxx"];

/**
 * A URL that is itself a credential: `scheme://user:password@host/path`, or a Slack or Discord
 * webhook (whoever has one can post into the channel). Reports the whole URL; `colon` is the
 * scheme's ':'.
 */
export function scanUrlCredentials(colon: i32): i32 {
  const end = scanUserInfo(colon);
  return end >= 0 ? end : scanWebhookUrl(colon);
}

// @ts-ignore: decorator
@inline function isPathTokenChar(c: i32): bool {
  return isAlnum(c) || c == 45 || c == 95;
}

/** The path of a webhook URL from `i`, after its fixed prefix: its end, or -1. */
function webhookPathEnd(i: i32, minLast: i32): i32 {
  let segments = 0;
  while (true) {
    const start = i;
    while (isPathTokenChar(at(i))) i++;
    if (i == start) return -1;
    segments++;
    if (at(i) == 47 && isPathTokenChar(at(i + 1))) {
      i++;
      continue;
    }
    // The last segment is the token: a short or masked one is a documentation example.
    if (segments < 2 || i - start < minLast || isPlaceholder(start, i)) return -1;
    return i;
  }
}

/** `https://hooks.slack.com/services/T…/B…/…`, `https://discord.com/api/webhooks/…/…`. */
function scanWebhookUrl(colon: i32): i32 {
  const scheme = startsWithFold(colon - 5, "https") ? colon - 5 : colon - 4;
  if (!startsWithFold(scheme, "http") || isAlnum(at(scheme - 1))) return -1;
  let i = colon + 3;
  let end = -1;
  if (startsWithFold(i, "hooks.slack.com/")) {
    i += 16;
    if (startsWith(i, "services/")) end = webhookPathEnd(i + 9, 16);
    else if (startsWith(i, "workflows/")) end = webhookPathEnd(i + 10, 16);
    else if (startsWith(i, "triggers/")) end = webhookPathEnd(i + 9, 16);
  } else {
    if (startsWithFold(i, "canary.")) i += 7;
    else if (startsWithFold(i, "ptb.")) i += 4;
    if (startsWithFold(i, "discord.com/api/webhooks/")) end = webhookPathEnd(i + 25, 40);
    else if (startsWithFold(i, "discordapp.com/api/webhooks/")) end = webhookPathEnd(i + 28, 40);
  }
  if (end < 0) return -1;
  emit(SECRET, scheme, end, 950);
  return end;
}

/** `scheme://user:password@host/path`: its end, or -1. */
function scanUserInfo(colon: i32): i32 {
  let scheme = colon;
  while (isAlnum(at(scheme - 1)) || at(scheme - 1) == 43 || at(scheme - 1) == 46) scheme--;
  if (colon - scheme < 2 || !isAlpha(at(scheme))) return -1;
  const userStart = colon + 3;
  let i = userStart;
  while (isUserInfoChar(at(i))) i++;
  if (at(i) != 58) return -1;
  const passStart = i + 1;
  i = passStart;
  while (isUserInfoChar(at(i))) i++;
  if (at(i) != 64 || i == passStart || !isAlnum(at(i + 1))) return -1;
  const passEnd = i;
  for (let k = 0; k < WEAK_URL_PASSWORDS.length; k++) {
    const word = unchecked(WEAK_URL_PASSWORDS[k]);
    if (passEnd - passStart == word.length && startsWithFold(passStart, word)) return -1;
  }
  if (isPlaceholder(passStart, passEnd)) return -1;
  // The whole URL is the finding: it is what must not leave, and where it ends is unambiguous.
  let end = passEnd + 1;
  while (isUrlChar(at(end))) end++;
  while (end > passEnd + 1 && isTrailingPunctuation(at(end - 1))) end--;
  emit(SECRET, scheme, end, 930);
  return end;
}

const PASSWORD_NAMES: string[] = ["passw", "pwd", "passphrase", "pass"];
const SCHEMES: string[] = ["bearer ", "basic ", "token "];

// @ts-ignore: decorator
@inline function isNameChar(c: i32): bool {
  return isWord(c) || c == 45 || c == 46;
}

// @ts-ignore: decorator
@inline function isValueChar(c: i32): bool {
  return (classOf(c) & C_VALUE) != 0;
}

function nameMatches(start: i32, end: i32, names: string[]): bool {
  for (let k = 0; k < names.length; k++) {
    if (containsFold(start, end, unchecked(names[k]))) return true;
  }
  return false;
}

// The secret-sounding words a key's name may hold, each packed as its lowercase bytes read as a
// little-endian integer: the window of a name read backwards (below) ends in the word exactly
// when its low bytes equal these.
const KW_KEY: u64 = 0x79656b; // "key"
const KW_PWD: u64 = 0x647770; // "pwd"
const KW_AUTH: u64 = 0x68747561; // "auth"
const KW_TOKEN: u64 = 0x6e656b6f74; // "token"
const KW_PASSW: u64 = 0x7773736170; // "passw"
const KW_SECRET: u64 = 0x746572636573; // "secret"
const KW_BEARER: u64 = 0x726572616562; // "bearer"
const KW_PRIVATE: u64 = 0x65746176697270; // "private"
const KW_CREDENTI: u64 = 0x69746e6564657263; // "credenti", then "al"

/**
 * Whether a secret-sounding word starts at `i`, given `window`: the lowercased name from `i`
 * on, up to eight characters, as a little-endian integer (the character at `i` in its low byte).
 */
// @ts-ignore: decorator
@inline function keyWordAt(i: i32, c: i32, window: u64): bool {
  switch (c) {
    case 107: // k
      return (window & 0xffffff) == KW_KEY;
    case 116: // t
      return (window & 0xffffffffff) == KW_TOKEN;
    case 115: // s
      return (window & 0xffffffffffff) == KW_SECRET;
    case 112: // p
      return (window & 0xffffff) == KW_PWD || (window & 0xffffffffff) == KW_PASSW ||
        (window & 0xffffffffffffff) == KW_PRIVATE;
    case 97: // a
      return (window & 0xffffffff) == KW_AUTH;
    case 99: // c
      return window == KW_CREDENTI && lower(at(i + 8)) == 97 && lower(at(i + 9)) == 108;
    case 98: // b
      return (window & 0xffffffffffff) == KW_BEARER;
  }
  return false;
}

/** 8-4-4-4-12 hex digits: an identifier, not a credential. */
function isUuid(start: i32, end: i32): bool {
  if (end - start != 36) return false;
  for (let k = 0; k < 36; k++) {
    const c = at(start + k);
    const dash = k == 8 || k == 13 || k == 18 || k == 23;
    if (dash ? c != 45 : !isHex(c)) return false;
  }
  return true;
}

// Value characters other than '=' (what `hasLongValueAt` wants), as a pair of nibble tables:
// byte b is one when LONG_VALUE_BY_LOW[b & 15] & BIT_OF_HIGH[b >> 4] is not zero. One swizzle
// each classifies sixteen bytes with no branch per character, where the loop it replaced
// mispredicted on nearly every short value in code.
const LONG_VALUE_BY_LOW: usize = memory.data<u8>([
  0xb8, 0xfc, 0xf8, 0xfc, 0xfc, 0xfc, 0xf8, 0xf8, 0xf8, 0xf8, 0xfc, 0x54, 0xd0, 0x54, 0xf4, 0x7c,
], 16);
const BIT_OF_HIGH: usize = memory.data<u8>([
  1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0,
], 16);

/** Whether at least eight value characters (and no '=') start at `v`. */
// @ts-ignore: decorator
@inline function hasLongValueAt(v: i32): bool {
  // The text buffer has 16 spare bytes, so the load stays inside it; lanes past the text are
  // not asked about.
  if (v + 8 > textLen) return false;
  const bytes = v128.load(textPtr + <usize>v);
  const low = i8x16.swizzle(v128.load(LONG_VALUE_BY_LOW), v128.and(bytes, i8x16.splat(15)));
  const high = i8x16.swizzle(v128.load(BIT_OF_HIGH), i8x16.shr_u(bytes, 4));
  const members = i8x16.bitmask(i8x16.ne(v128.and(low, high), i8x16.splat(0)));
  return (members & 0xff) == 0xff;
}

/** Skips an HTTP auth scheme (`Bearer `, `Basic `, `token `) at `v`. */
function skipScheme(v: i32): i32 {
  for (let k = 0; k < SCHEMES.length; k++) {
    if (startsWithFold(v, unchecked(SCHEMES[k]))) return v + SCHEMES[k].length;
  }
  return v;
}

/**
 * Whether the '&' at `i` is part of a password rather than the end of it: a value character
 * follows, and not a shell `&&` or a query string's next `name=`.
 */
function ampersandInPassword(i: i32): bool {
  const next = at(i + 1);
  if (!isValueChar(next) || next == 61) return false;
  let j = i + 1;
  while (isWord(at(j))) j++;
  return at(j) != 61;
}

/** `name = value`, `name: value`, `"name": "value"` where the name sounds like a secret. */
export function scanKeyValue(op: i32): i32 {
  // The name needs three characters before the operator (past spaces and a closing quote);
  // most operators in code (`x: T`, `f(): T`, `a === b`) fail this on their neighbours alone.
  let j = op - 1;
  while (at(j) == 32 && op - j < 4) j--;
  const q = at(j);
  if (q == 34 || q == 39) j--;
  if (!isNameChar(at(j)) || !isNameChar(at(j - 1)) || !isNameChar(at(j - 2))) return -1;
  // Most remaining assignments have a short value; check that next, it is cheaper than reading
  // the whole name.
  let v = op + 1;
  while (at(v) == 32 || at(v) == 61 || at(v) == 34 || at(v) == 39) v++;
  if (!hasLongValueAt(v)) {
    const first = lower(at(v));
    if (first != 98 && first != 116) return -1;
    const after = skipScheme(v);
    if (after == v || !hasLongValueAt(after)) return -1;
  }
  // The rest of the name, read backwards in one pass that also looks for a secret-sounding word.
  const nameEnd = j + 1;
  let window: u64 = 0;
  let keyName = false;
  while (nameEnd - j < 64) {
    const c = at(j);
    if (!isNameChar(c)) break;
    const folded = lower(c);
    window = (window << 8) | <u64>folded;
    if (!keyName) keyName = keyWordAt(j, folded, window);
    j--;
  }
  const nameStart = j + 1;
  if (nameEnd - nameStart < 3 || !keyName) return -1;
  // The value, after the operator, spaces, an opening quote and an auth scheme.
  let i = op + 1;
  if (at(op) == 58 && at(i) == 61) i++;
  while (at(i) == 32 || at(i) == 9) i++;
  const quote = at(i);
  const quoted = quote == 34 || quote == 39 || quote == 96;
  if (quoted) i++;
  i = skipScheme(i);
  const start = i;
  const prefixed = isAlpha(at(start)) && !isWord(at(start - 1))
    ? scanPrefixedSecret(start, at(start))
    : -1;
  if (prefixed > 0) return prefixed;
  // A value over 200 characters is rejected below, so the read stops once one is certain: past
  // that length only dots may follow, and only unquoted (it sheds trailing dots). Read to its
  // end, `key:key:key:…` made every ':' read the rest of the text.
  const longest = start + 200;
  // A password may hold '&' (`password: Tr0ub4dor&3x`), where other values end.
  const password = nameMatches(nameStart, nameEnd, PASSWORD_NAMES);
  while (isValueChar(at(i)) || (password && at(i) == 38 && ampersandInPassword(i))) {
    // `name: other_name=value` is a second assignment, not one value; base64 padding ends a value.
    if (at(i) == 61 && at(i + 1) != 61 && isValueChar(at(i + 1))) break;
    if (i >= longest && (quoted || at(i) != 46)) return -1;
    i++;
  }
  let end = i;
  if (quoted) {
    if (at(end) != quote) return -1;
  } else {
    while (end > start && at(end - 1) == 46) end--;
  }
  const len = end - start;
  if (len < 8 || len > 200) return -1;
  const first = at(start);
  if (first == 36 || first == 37) return -1;
  // A path, unlike base64 that happens to start with '/', has no capitals or has a dot.
  if (first == 47 && (classCount(start, end) < 3 || containsFold(start, end, "."))) return -1;
  if (isPlaceholder(start, end) || containsFold(start, end, "://") || isUuid(start, end)) return -1;
  const bits = entropy(start, end);
  const classes = classCount(start, end);
  if (password) {
    if (len <= 64 && (classes >= 3 || (len >= 12 && classes >= 2 && bits >= 3.0))) {
      emit(SECRET, start, end, 800);
      return end;
    }
    return -1;
  }
  if (len < 16) return -1;
  if (!hasDigitAndLetter(start, end) && !isMixedCaseRandom(start, end)) return -1;
  // Hex carries at most 4 bits a character, so it gets a lower bar than base64.
  const cap = isAllHex(start, end) ? 3.0 : 3.5;
  const needed = Math.min(cap, Math.log2(<f64>len) * 0.8);
  if (bits < needed) return -1;
  emit(SECRET, start, end, 750);
  return end;
}

// Command lines that carry a password as an argument: `mysql -pSECRET`, `mysql --password=SECRET`,
// `sshpass -p SECRET`, `curl -u user:SECRET`. Whatever follows such an option is the password the
// command uses, so a short or plain word counts too; a variable (`$PW`) or a placeholder does not.
const TOOL_MYSQL: i32 = 1;
const TOOL_SSHPASS: i32 = 2;
const TOOL_CURL: i32 = 4;

/** The tool whose name is the word starting at `k` (one of the TOOL_ bits), or 0. */
function toolAt(k: i32): i32 {
  const c = at(k);
  if (c == 109) {
    // mysql, mysqldump, mysqladmin, mysqlimport...; mariadb, mariadb-dump...
    if (startsWith(k, "mysql") || startsWith(k, "mariadb")) return TOOL_MYSQL;
  } else if (c == 115) {
    if (startsWith(k, "sshpass") && !isNameChar(at(k + 7))) return TOOL_SSHPASS;
  } else if (c == 99) {
    if (startsWith(k, "curl") && !isNameChar(at(k + 4))) return TOOL_CURL;
  }
  return 0;
}

/**
 * The tool named by the nearest word of the same command before `i` that names one (not past a
 * line end, `|`, `;` or `&`), as its TOOL_ bit; `adjacent` asks that only spaces lie between.
 */
function commandTool(i: i32, adjacent: bool): i32 {
  const stop = i > 256 ? i - 256 : 0;
  let k = i - 1;
  while (k >= stop && at(k) == 32) k--;
  const wordEnd = k + 1;
  for (; k >= stop; k--) {
    const c = at(k);
    if (c == 10 || c == 13 || c == 124 || c == 59 || c == 38) return 0;
    if (k > 0 && isNameChar(at(k - 1))) continue;
    const tool = toolAt(k);
    if (tool != 0) return tool;
    if (adjacent && k < wordEnd) return 0;
  }
  return 0;
}

// @ts-ignore: decorator
@inline function isShellWordChar(c: i32): bool {
  // Printable, not a space, quote, backtick, or a character that ends a shell word.
  return c > 32 && c < 127 && c != 34 && c != 39 && c != 96 && c != 59 && c != 124 &&
    c != 38 && c != 41 && c != 60 && c != 62;
}

/** The end of the shell word (quoted or not) whose value starts at `v`, or -1 if none. */
function shellWordEnd(v: i32): i32 {
  const q = at(v);
  if (q == 34 || q == 39) {
    // Bounded, so that a line of unclosed `-p"` is not read again from each.
    const stop = v + 256 < textLen ? v + 256 : textLen;
    let i = v + 1;
    while (i < stop && at(i) != q && at(i) != 10) i++;
    return at(i) == q && i > v + 1 ? i : -1;
  }
  let i = v;
  while (isShellWordChar(at(i))) i++;
  return i > v && i - v <= 256 ? i : -1;
}

/** Reports the password `[start, end)` of a command line, unless it is a variable or a mask. */
function emitArgument(start: i32, end: i32, resume: i32): i32 {
  if (end <= start) return -1;
  const first = at(start);
  if (first == 36 || first == 37 || first == 45) return -1;
  if (isPlaceholder(start, end)) return -1;
  emit(SECRET, start, end, 900);
  return resume;
}

/** `user:password` from `v` (curl's `-u`): reports the password. */
function emitUserPassword(v: i32): i32 {
  const end = shellWordEnd(v);
  if (end < 0) return -1;
  const quoted = at(v) == 34 || at(v) == 39;
  let i = quoted ? v + 1 : v;
  while (i < end && at(i) != 58) i++;
  if (i >= end) return -1;
  return emitArgument(i + 1, end, quoted ? end + 1 : end);
}

/** The password given to a command as an option, at the `-` at `i`: its end, or -1. */
export function scanCommandOption(i: i32): i32 {
  const prev = at(i - 1);
  if (i == 0 || (prev != 32 && prev != 9)) return -1;
  const opt = at(i + 1);
  if (opt == 45) {
    if (startsWith(i, "--password=")) {
      if (commandTool(i, false) != TOOL_MYSQL) return -1;
      return emitQuotedOrBare(i + 11);
    }
    if (startsWith(i, "--user") && (at(i + 6) == 32 || at(i + 6) == 61)) {
      if (commandTool(i, false) != TOOL_CURL) return -1;
      return emitUserPassword(i + 7);
    }
    return -1;
  }
  if (opt == 112 /* p */) {
    const v = i + 2;
    if (at(v) == 32) {
      // `sshpass -p SECRET`: mysql reads `-p db` as a prompt and a database name.
      if (commandTool(i, true) != TOOL_SSHPASS) return -1;
      let w = v;
      while (at(w) == 32) w++;
      return emitQuotedOrBare(w);
    }
    const tool = commandTool(i, false);
    if (tool == TOOL_MYSQL || (tool == TOOL_SSHPASS && commandTool(i, true) != 0)) {
      return emitQuotedOrBare(v);
    }
    return -1;
  }
  if (opt == 117 /* u */) {
    if (commandTool(i, false) != TOOL_CURL) return -1;
    let v = i + 2;
    while (at(v) == 32) v++;
    return emitUserPassword(v);
  }
  return -1;
}

/** A quoted or bare shell word at `v` as a password. */
function emitQuotedOrBare(v: i32): i32 {
  const end = shellWordEnd(v);
  if (end < 0) return -1;
  const quoted = at(v) == 34 || at(v) == 39;
  return quoted ? emitArgument(v + 1, end, end + 1) : emitArgument(v, end, end);
}
