/**
 * Taint tracking: a secret or sensitive value seen in an input or a tool result gets a taint
 * id, and the tracker then recognizes it wherever it reappears, also encoded: base64 (standard
 * and URL-safe, at any byte alignment, also wrapped over lines), hex (also as `\x73`, `0x73,`,
 * `73 6b` or `73:6b`), URL-encoding (of any of its characters), rot13, reversed, with
 * separators removed or added, in another case, in look-alike or invisible characters, split
 * across streamed chunks, and a secret cut in two (either half of it). Reversed is also read
 * with separators removed; base64 is also searched for the value reversed (with and without its
 * separators), all upper case and all lower case, not for other mixes of case. One pass over a
 * text finds every tracked value, however many a session tracks.
 */
import { foldForTaint } from "./taint_fold.ts";

/** How much a value is trusted. */
export type Trust = "Untrusted" | "Derived" | "Trusted";
/** What kind of taint a value carries. */
export type TaintKind = "Sensitive" | "Secret" | "PromptInjection";

/** A value's labels. */
export interface Label {
  /** How much the value is trusted. */
  trust: Trust;
  /** Every kind of taint the value carries. */
  taints: TaintKind[];
}

/** One tracked value. */
export interface TaintEntry {
  /** The taint id, `taint-<n>`, unique within its tracker. */
  id: string;
  /** What kind of taint the value carries. */
  kind: TaintKind;
  /** Where it was seen: `input`, `tool:<name>`, `reply`. */
  source: string;
  /** The entity type, when the classifier named one. */
  type?: string;
}

/** A tracked value found in a text. */
export interface TaintHit {
  /** The id of the tracked value found. */
  id: string;
  /** Its kind of taint. */
  kind: TaintKind;
  /** Which encoding matched: `raw`, `base64`, `hex`, `url`, `rot13`, `reversed`, `compact`, `split`. */
  encoding: TaintEncoding;
}

const TRUST_ORDER: readonly Trust[] = ["Untrusted", "Derived", "Trusted"];

/**
 * The label of something computed from `inputs`: the least trust of any input (a value made
 * from trusted data alone is Derived) and every taint any input carries.
 *
 * @example
 * ```ts
 * import { deriveLabel } from "@a3s/safeclaw";
 * const label = deriveLabel([{ trust: "Trusted", taints: [] }, { trust: "Untrusted", taints: ["Secret"] }]);
 * console.log(label); // { trust: "Untrusted", taints: ["Secret"] }
 * ```
 */
export function deriveLabel(inputs: readonly Label[]): Label {
  let rank = TRUST_ORDER.length - 1;
  const taints = new Set<TaintKind>();
  for (const input of inputs) {
    rank = Math.min(rank, TRUST_ORDER.indexOf(input.trust));
    for (const t of input.taints) taints.add(t);
  }
  const trust = inputs.length === 0 ? "Trusted" : rank === 2 ? "Derived" : TRUST_ORDER[rank];
  return { trust, taints: [...taints] };
}

/** The encodings a tracked value is found in, most telling first: a hit names the first. */
export const TAINT_ENCODINGS = [
  "raw",
  "reversed",
  "hex",
  "compact",
  "url",
  "rot13",
  "split",
  "base64",
] as const;
/** An encoding a tracked value was found in. */
export type TaintEncoding = (typeof TAINT_ENCODINGS)[number];

const MIN_VALUE = 6;
/**
 * Needles are looked up by a hash of this many of their characters, so none may be shorter: a
 * tracked value has 6 or more, and every form of it at least as many.
 */
const ANCHOR = 6;
/**
 * The most characters a carrying text spends on a byte of the value that the whole-text search
 * still reads as the value, which a stream must therefore keep between chunks to find what a
 * whole text shows. The longest forms the decoders accept, each at its padding's bound: an
 * entity or brace escape zero-padded to its full width (`&#0000052;`, `&#x000034;`,
 * `\u{000034}`: 10 characters for one byte), a byte in a list of byte values (`052   ,   `, at
 * most three spaces or tabs each side of the comma: 10), `%XX` encoded three times (`%252534`:
 * 7), `0x73, ` for a byte of hex (6). A character followed by up to 9 separators (`4 - 1`) or
 * hex marks fits too. What no decoder bounds, a longer run of separators, of invisible characters
 * or of hex marks between two characters, is found in a whole text (a tool call is always
 * checked whole) but not across a stream's chunks.
 */
const CARRIER_FACTOR = 10;
/** The values a session tracks by default before the oldest go (see {@linkcode TaintTracker}). */
export const MAX_TAINTS_PER_SESSION = 4096;
const encoder = new TextEncoder();

function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * The base64 text that any encoding of `value` contains, whatever the byte offset at which the
 * value starts inside the encoded data: for each of the three alignments, the characters that
 * depend only on the value's own bytes.
 */
function base64Cores(value: Uint8Array): string[] {
  const cores: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + value.length);
    padded.set(value, shift);
    const b64 = bytesToBase64(padded).replace(/=+$/, "");
    // Characters touching the padding bytes or the unknown following byte are unstable.
    const start = shift === 0 ? 0 : shift === 1 ? 2 : 3;
    const tailBits = ((shift + value.length) * 8) % 6;
    const end = b64.length - (tailBits === 0 ? 0 : 1);
    const core = b64.slice(start, end);
    // A 6-byte value leaves 7 stable characters at two of the alignments: kept, or those two
    // alignments would never match.
    if (core.length >= ANCHOR) cores.push(core);
  }
  return cores;
}

function toUrlSafe(b64: string): string {
  return b64.replace(/\+/g, "-").replace(/\//g, "_");
}

function hexOf(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Which view of a text a needle is compared with: the folded, lowercased text (`lower`); the
 * same with separators removed (`compact`); with the marks hex is written with removed
 * (`hex`); the folded text in its own case without whitespace (`base64`).
 */
type View = "lower" | "compact" | "hex" | "base64";

/** One form a tracked value is searched in. */
interface Needle {
  text: string;
  encoding: TaintEncoding;
  view: View;
  /** Where the hashed characters start in `text`. */
  anchor: number;
  /**
   * Found in the compact view only where the match does not run on into a word of the same
   * kind (letters or digits) in the text: compaction joins words, and `Salon Donut` holds
   * `london` once joined, while `4111 1111 1111 1111` starts and ends a card number.
   */
  bounded: boolean;
  entry: StoredEntry;
}

interface StoredEntry extends TaintEntry {
  /** The value itself, to forget it when the entry goes. */
  value: string;
  /** Order of tracking, to report hits in it. */
  seq: number;
  needles: Needle[];
  /** The longest text that carries the value which a stream must keep between chunks. */
  carrier: number;
}

/** A tracked secret this long or longer is also found by either half of it. */
const MIN_SPLIT_SECRET = 16;
/**
 * Up to this long: a secret of n characters has about n/2 halves to look for, so a private key
 * (thousands of characters) would make every search cost its square. Keys and tokens are shorter.
 */
const MAX_SPLIT_SECRET = 256;
/** Compact forms shorter than this count only where they do not run into a longer word. */
const STANDALONE_BELOW = 12;

function rot13(text: string): string {
  return text.replace(/[a-z]/gi, (c) => {
    const base = c <= "Z" ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

/**
 * What may be put between a value's characters without changing what it says to a reader or a
 * program that strips it: whitespace, dashes, dots, colons, slashes, commas, pipes, plus signs,
 * stars and semicolons. Characters drawn as nothing are already gone from the folded view.
 */
const SEPARATORS = /[\s\-_.:/\\,|+*;]+/g;

function compactOf(text: string): string {
  return text.replace(SEPARATORS, "");
}

/**
 * The marks around and between hex digits: `\x`, a `0x` that starts a number, `%`, whitespace,
 * colons and commas (`printf '\x73\x6b'`, `0x73,0x6b`, `73 6b`, `73:6b`).
 */
const HEX_MARKS = /\\x|(?<![0-9a-f])0x|[%\s:,]+/g;

/** `text` with its code points in reverse order (a surrogate pair stays one character). */
function reversed(text: string): string {
  return [...text].reverse().join("");
}

/** The forms of `value` searched for, without their entry. */
function needlesFor(value: string, kind: TaintKind): Omit<Needle, "entry" | "anchor">[] {
  const folded = foldForTaint(value);
  const lower = folded.toLowerCase();
  const out: Omit<Needle, "entry" | "anchor">[] = [];
  const seen = new Set<string>();
  const add = (text: string, encoding: TaintEncoding, view: View, bounded = false) => {
    const key = `${view}\u0000${text}`;
    if (text.length < ANCHOR || seen.has(key)) return;
    seen.add(key);
    out.push({ text, encoding, view, bounded });
  };
  add(lower, "raw", "lower");
  // Always, also for a value with no separator of its own: `4111 1111 1111 1111` is the card
  // `4111111111111111` with separators added.
  const compact = compactOf(lower);
  // Only a short compact form needs to stand alone (`123456` is in every other phone number); a
  // long one run on into more characters is still the value (`4111-1111-1111-1111-0`).
  add(compact, "compact", "compact", compact.length < STANDALONE_BELOW);
  // An injected instruction is carried on as words, not encoded: its text is enough, and the
  // long forms of a long text would make every stream keep that much more between chunks.
  if (kind === "PromptInjection") return out;
  add(reversed(lower), "reversed", "lower");
  // Reversed once its separators are gone (`1111111111111114`, a card's digits backwards): the
  // compact view reads it with or without separators of its own.
  const backwards = reversed(compact);
  if (backwards !== compact) {
    add(backwards, "reversed", "compact", compact.length < STANDALONE_BELOW);
  }
  // Encoders work on the value as it was written, and on its plain form (`４１１１` typed,
  // `4111` encoded).
  const written = [...new Set([value, folded])];
  for (const form of written) add(hexOf(encoder.encode(form)), "hex", "hex");
  // A lone surrogate (half of an emoji cut off) cannot be URL-encoded; as a URL would carry it.
  const urlEncoded = encodeURIComponent(value.toWellFormed());
  if (urlEncoded !== value) add(urlEncoded.toLowerCase(), "url", "lower");
  const rotated = rot13(lower);
  if (rotated !== lower) add(rotated, "rot13", "lower");
  if (
    kind === "Secret" && compact.length >= MIN_SPLIT_SECRET && compact.length <= MAX_SPLIT_SECRET
  ) {
    // A secret sent in two pieces (two URL parameters, two calls): the longer piece has half
    // its length or more, and holds a window of `half - step + 1` characters starting at a
    // multiple of `step` wherever the cut falls (a piece [c, n) of `half` or more holds every
    // offset from c to n - width, `step` of them). A step of one would cost a 256-character
    // key 128 windows; an eighth of the half costs 9 and leaves the windows 7/8 as long.
    const half = Math.ceil(compact.length / 2);
    const step = Math.max(1, Math.min(half - 7, half >> 3));
    const width = half - step + 1;
    for (let i = 0; i + width <= compact.length; i += step) {
      add(compact.slice(i, i + width), "split", "compact");
    }
  }
  // Base64 of the value as written, of its plain form, and of that form without its
  // separators (a card's digits, encoded), and of that one reversed. Base64 is read in its own
  // case, so the forms the plain views find in any case or reversed are encoded too: all upper,
  // all lower, and each of those reversed (`TERCES-REPUS`, encoded). A fixed number of forms,
  // each at most three cores in two alphabets: the needles per value stay bounded.
  //
  // What that leaves out: base64 of the value in any other mix of cases (`Super-secret-token`
  // for `Super-Secret-Token`, every case swapped, title case). Each letter's case changes the
  // bits of its base64 and of its neighbours', and a value of n letters has 2^n mixes: there is
  // no case-blind reading of base64, and no bounded set of forms covers them. The plain views
  // (searched in lower case) find any mix that is not encoded; encoded, only the forms above.
  const plain = folded.replace(SEPARATORS, "");
  const forms = new Set([...written, plain, reversed(plain)]);
  for (const cased of new Set([folded, folded.toUpperCase(), lower])) {
    forms.add(cased);
    forms.add(reversed(cased));
  }
  for (const form of forms) {
    for (const core of base64Cores(encoder.encode(form.toWellFormed()))) {
      add(core, "base64", "base64");
      add(toUrlSafe(core), "base64", "base64");
    }
  }
  return out;
}

/** `text` with its `%XX` escapes decoded, up to three times over (`%2541` is `%41`, then `A`). */
function percentDecoded(text: string): string {
  let current = text;
  for (let round = 0; round < 3 && /%[0-9a-f]{2}/i.test(current); round++) {
    current = current.replace(
      /%([0-9a-f]{2})/gi,
      (_, hex) => String.fromCharCode(parseInt(hex, 16)),
    );
  }
  return current;
}

const ENTITY_NAMES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function codePointText(code: number): string {
  return code <= 0x10ffff ? String.fromCodePoint(code) : "";
}

/**
 * `text` with the escapes a program writes a string in undone: HTML entities (`&#52;`, `&#x34;`,
 * `&amp;`), backslash escapes (`\u0034`, `\u{34}`, octal `\064`; `\x34` is the hex search's) and
 * lists of byte values (`52, 49, 49, 49, 49, 49`), so a value spelled out that way is still the
 * value. Each is one pass; the text comes back as it was where nothing is escaped.
 */
function escapesDecoded(text: string): string {
  let out = text;
  if (out.includes("&")) {
    out = out.replace(
      /&#(\d{1,7});|&#x([0-9a-f]{1,6});|&(amp|lt|gt|quot|apos);/gi,
      (_, dec, hex, name) =>
        dec
          ? codePointText(Number(dec))
          : hex
          ? codePointText(parseInt(hex, 16))
          : ENTITY_NAMES[name.toLowerCase()],
    );
  }
  if (out.includes("\\")) {
    out = out.replace(
      /\\u\{([0-9a-f]{1,6})\}|\\u([0-9a-f]{4})|\\([0-7]{1,3})/gi,
      (_, braced, u, octal) => codePointText(parseInt(braced ?? u ?? octal, braced || u ? 16 : 8)),
    );
  }
  // Spaces around a comma bounded, as the padding of entities is by their width: a stream's
  // window covers the longest form (see `CARRIER_FACTOR`), and any longer would be found in a
  // whole text only.
  return out.replace(/\b(?:\d{1,3}[ \t]{0,3},[ \t]{0,3}){5,}\d{1,3}\b/g, (run) => {
    const bytes = run.split(/[ \t]*,[ \t]*/).map(Number);
    return bytes.every((b) => b <= 255) ? utf8Lenient.decode(Uint8Array.from(bytes)) : run;
  });
}

const utf8Lenient = new TextDecoder();

/**
 * A text with its separators removed, and where each of its pieces came from, so that a match
 * in it can be checked against the characters around it in the text.
 */
interface CompactView {
  text: string;
  /** The compact offset at which each piece starts, ascending. */
  pieceAt: number[];
  /** The offset in the text of each piece. */
  pieceFrom: number[];
}

function compactView(text: string): CompactView {
  const parts: string[] = [];
  const pieceAt: number[] = [];
  const pieceFrom: number[] = [];
  let length = 0;
  let last = 0;
  const piece = (from: number, to: number) => {
    if (to <= from) return;
    parts.push(text.slice(from, to));
    pieceAt.push(length);
    pieceFrom.push(from);
    length += to - from;
  };
  for (const m of text.matchAll(SEPARATORS)) {
    piece(last, m.index);
    last = m.index + m[0].length;
  }
  piece(last, text.length);
  return { text: parts.join(""), pieceAt, pieceFrom };
}

/** The offset in the text of compact offset `at`. */
function textOffset(view: CompactView, at: number): number {
  let lo = 0;
  let hi = view.pieceAt.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (view.pieceAt[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return view.pieceFrom[lo] + at - view.pieceAt[lo];
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{N}/u;
const SEPARATOR = /[\s\-_.:/\\,|+*;]/;

/**
 * Whether the match `lower[from, to)` ends a word on the side `step` (-1: before it, 1: after).
 * Letters run on into letters and digits into digits (`Salon Donut` does not hold `london`;
 * `card4111…` still starts a number). A run of digits also runs on across the separators it is
 * grouped with: `123-456` is not a value of its own in `123-456-7890`.
 */
function endsWord(lower: string, from: number, to: number, step: -1 | 1): boolean {
  const edge = lower[step < 0 ? from : to - 1];
  let at = step < 0 ? from - 1 : to;
  const beside = lower[at];
  if (beside === undefined) return true;
  if (LETTER.test(edge)) return !LETTER.test(beside);
  if (!DIGIT.test(edge)) return true;
  if (DIGIT.test(beside)) return false;
  const inside = lower.slice(from, to);
  while (at >= 0 && at < lower.length && SEPARATOR.test(lower[at])) {
    if (!inside.includes(lower[at])) return true;
    at += step;
  }
  return !DIGIT.test(lower[at] ?? "");
}

/** Whether a compact match at `start` of `length` stands alone in the text `lower`. */
function standsAlone(lower: string, view: CompactView, start: number, length: number): boolean {
  const from = textOffset(view, start);
  const to = textOffset(view, start + length - 1) + 1;
  return endsWord(lower, from, to, -1) && endsWord(lower, from, to, 1);
}

const HASH_BASE = 0x01000193;
/** `HASH_BASE` to the power `ANCHOR - 1`, in the 32-bit ring the hash is computed in. */
const HASH_TOP = (() => {
  let p = 1;
  for (let i = 1; i < ANCHOR; i++) p = Math.imul(p, HASH_BASE);
  return p;
})();

function anchorHash(text: string, at: number): number {
  let h = 0;
  for (let i = at; i < at + ANCHOR; i++) h = (Math.imul(h, HASH_BASE) + text.charCodeAt(i)) | 0;
  return h;
}

/** A hash as a small integer, which a Map keys without allocating. */
function bucketOf(hash: number): number {
  return hash & 0x3fffffff;
}

function filterSlot(hash: number): number {
  return (hash ^ (hash >>> 16)) & 0xffff;
}

/** The best hit of each entry so far: the needle with the lowest encoding rank. */
type Found = Map<StoredEntry, Needle>;

const RANK: Readonly<Record<TaintEncoding, number>> = Object.fromEntries(
  TAINT_ENCODINGS.map((e, i) => [e, i]),
) as Record<TaintEncoding, number>;

function better(found: Found, needle: Needle): boolean {
  const best = found.get(needle.entry);
  return !best || RANK[needle.encoding] < RANK[best.encoding];
}

/**
 * Up to this many needles in one view are each looked for with the engine's own substring
 * search, faster than hashing every position of a long text; past it, one pass hashes each
 * position and looks it up, at a cost that does not grow with the number of needles.
 */
const DIRECT_SEARCH_MAX = 48;

/** The needles of one view, found in one pass over a text by a rolling hash. */
class NeedleIndex {
  #buckets = new Map<number, Needle[]>();
  // How many needles hash to each slot: most positions of a text are let go on one array read.
  #filter = new Uint16Array(1 << 16);
  #all = new Set<Needle>();

  get size(): number {
    return this.#all.size;
  }

  add(needle: Needle): void {
    const hash = anchorHash(needle.text, needle.anchor);
    const key = bucketOf(hash);
    const bucket = this.#buckets.get(key);
    if (bucket) bucket.push(needle);
    else this.#buckets.set(key, [needle]);
    const slot = filterSlot(hash);
    if (this.#filter[slot] < 0xffff) this.#filter[slot]++;
    this.#all.add(needle);
  }

  remove(needle: Needle): void {
    if (!this.#all.delete(needle)) return;
    const hash = anchorHash(needle.text, needle.anchor);
    const key = bucketOf(hash);
    const bucket = this.#buckets.get(key)!;
    bucket.splice(bucket.indexOf(needle), 1);
    if (!bucket.length) this.#buckets.delete(key);
    const slot = filterSlot(hash);
    // A saturated slot stays set: it only costs a lookup.
    if (this.#filter[slot] > 0 && this.#filter[slot] < 0xffff) this.#filter[slot]--;
  }

  /** Records in `found` each needle in `text` that `accept` (when given) takes. */
  search(text: string, found: Found, accept?: (needle: Needle, start: number) => boolean): void {
    if (!this.#all.size || text.length < ANCHOR) return;
    const take = (needle: Needle, start: number) => {
      if (start < 0 || !text.startsWith(needle.text, start)) return;
      if (accept && !accept(needle, start)) return;
      found.set(needle.entry, needle);
    };
    if (this.#all.size <= DIRECT_SEARCH_MAX) {
      for (const needle of this.#all) {
        for (
          let at = text.indexOf(needle.text);
          at >= 0 && better(found, needle);
          at = text.indexOf(needle.text, at + 1)
        ) take(needle, at);
      }
      return;
    }
    const filter = this.#filter;
    let hash = anchorHash(text, 0);
    for (let i = 0;; i++) {
      if (filter[filterSlot(hash)]) {
        const bucket = this.#buckets.get(bucketOf(hash));
        if (bucket) {
          for (const needle of bucket) if (better(found, needle)) take(needle, i - needle.anchor);
        }
      }
      if (i + ANCHOR >= text.length) break;
      hash = (Math.imul(hash - Math.imul(text.charCodeAt(i), HASH_TOP), HASH_BASE) +
        text.charCodeAt(i + ANCHOR)) | 0;
    }
  }
}

/** Options of a {@linkcode TaintTracker}. */
export interface TaintTrackerOptions {
  /**
   * The most values tracked (default {@linkcode MAX_TAINTS_PER_SESSION}). Past it, tracking a
   * new value lets the least recently tracked Sensitive one go, or, when every value is a Secret
   * or an injection, the least recently tracked of those.
   */
  maxEntries?: number;
  /** Told of each value let go to stay within `maxEntries` (the guard audits it). */
  onEvict?: (entry: TaintEntry) => void;
}

/** Options of {@linkcode TaintTracker.find}. */
export interface TaintFindOptions {
  /**
   * Only a whole value counts, never half of a secret (the `split` encoding): for a text put
   * together from pieces that were apart (a call's arguments laid end to end), where the join of
   * two unrelated short pieces holds half of a secret far more often than the whole of it.
   */
  wholeValues?: boolean;
}

/** A matcher over a stream's chunks (see {@linkcode TaintTracker.streamMatcher}). */
export interface StreamTaintMatcher {
  /** Takes the next chunk; returns the tracked values newly found (each once a stream). */
  (chunk: string): TaintHit[];
  /** Ends the stream: returns the tracked values found in what was not searched yet. */
  flush(): TaintHit[];
}

/**
 * The taint registry of one session.
 *
 * Memory and search cost are bounded: at most `maxEntries` values are tracked, and past that
 * the least recently tracked Sensitive value goes first (Secrets and injected instructions
 * are kept longer, as what must never leave); `onEvict` hears of each, so that it is audited,
 * not silent. A search costs one pass over the text's views whatever the number of values.
 *
 * @example
 * ```ts
 * import { TaintTracker } from "@a3s/safeclaw";
 * const tracker = new TaintTracker();
 * const id = tracker.track("sk-live-4f9a8b7c6d5e", "Secret", "input");
 * console.log(tracker.find(btoa("key=sk-live-4f9a8b7c6d5e"))[0].id === id); // true
 * ```
 */
export class TaintTracker {
  // In order of tracking, the least recent first (a value tracked again moves to the end).
  #entries = new Map<string, StoredEntry>();
  #byValue = new Map<string, string>();
  // The Sensitive ones among them, in the same order: the first to go.
  #sensitive = new Set<string>();
  #indexes: Record<View, NeedleIndex> = {
    lower: new NeedleIndex(),
    compact: new NeedleIndex(),
    hex: new NeedleIndex(),
    base64: new NeedleIndex(),
  };
  #next = 1;
  #longest = 0;
  // How many entries have each carrier length: the longest is known again when one goes.
  #carriers = new Map<number, number>();
  #maxEntries: number;
  #onEvict?: (entry: TaintEntry) => void;

  /** A tracker, empty. */
  constructor(options: TaintTrackerOptions = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? MAX_TAINTS_PER_SESSION);
    this.#onEvict = options.onEvict;
  }

  /** Tracks `value` (at least 6 characters); returns its taint id, the same for a repeat. */
  track(value: string, kind: TaintKind, source: string, type?: string): string {
    const known = this.#byValue.get(value);
    if (known) {
      // Seen again: the most recent now, the last to be let go.
      const entry = this.#entries.get(known)!;
      this.#entries.delete(known);
      this.#entries.set(known, entry);
      if (this.#sensitive.delete(known)) this.#sensitive.add(known);
      return known;
    }
    if (value.length < MIN_VALUE) {
      throw new RangeError(`a tracked value needs ${MIN_VALUE}+ characters`);
    }
    const id = `taint-${this.#next}`;
    const entry: StoredEntry = {
      id,
      kind,
      source,
      type,
      seq: this.#next++,
      needles: [],
      carrier: CARRIER_FACTOR * encoder.encode(value).length,
      value,
    };
    for (const spec of needlesFor(value, kind)) {
      const needle: Needle = {
        ...spec,
        anchor: (spec.text.length - ANCHOR) >> 1,
        entry,
      };
      entry.needles.push(needle);
      this.#indexes[needle.view].add(needle);
    }
    this.#entries.set(id, entry);
    if (kind === "Sensitive") this.#sensitive.add(id);
    this.#byValue.set(value, id);
    this.#carriers.set(entry.carrier, (this.#carriers.get(entry.carrier) ?? 0) + 1);
    this.#longest = Math.max(this.#longest, entry.carrier);
    while (this.#entries.size > this.#maxEntries) this.#evict();
    return id;
  }

  #evict(): void {
    const [oldest] = this.#sensitive.size ? this.#sensitive : this.#entries.keys();
    const victim = oldest === undefined ? undefined : this.#entries.get(oldest);
    if (!victim) return;
    this.#sensitive.delete(victim.id);
    this.#entries.delete(victim.id);
    this.#byValue.delete(victim.value);
    for (const needle of victim.needles) this.#indexes[needle.view].remove(needle);
    const left = this.#carriers.get(victim.carrier)! - 1;
    if (left) this.#carriers.set(victim.carrier, left);
    else {
      this.#carriers.delete(victim.carrier);
      if (victim.carrier === this.#longest) this.#longest = Math.max(0, ...this.#carriers.keys());
    }
    this.#onEvict?.(publicEntry(victim));
  }

  /** The entry of `id`. */
  get(id: string): TaintEntry | undefined {
    const e = this.#entries.get(id);
    return e && publicEntry(e);
  }

  /** How many values are tracked. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * How many characters a stream keeps between chunks: the longest text that carries a tracked
   * value in a form the whole-text search reads (10 characters for each of its bytes, as
   * `&#0000052;` spends; see `CARRIER_FACTOR`).
   */
  get window(): number {
    return this.#longest;
  }

  /**
   * Every tracked value that `text` carries, in any of its encodings; also once `text` is
   * percent-decoded (`%41%4B…` spells a value however many of its characters are encoded) and
   * once its HTML entities, backslash escapes and byte lists are undone.
   */
  find(text: string, options: TaintFindOptions = {}): TaintHit[] {
    if (this.#entries.size === 0) return [];
    const found: Found = new Map();
    const variants = [text];
    const decoded = percentDecoded(text);
    if (decoded !== text) variants.push(decoded);
    const unescaped = escapesDecoded(text);
    if (unescaped !== text) variants.push(unescaped);
    const { lower, compact, hex, base64 } = this.#indexes;
    for (const variant of variants) {
      const folded = foldForTaint(variant);
      const lowered = folded.toLowerCase();
      lower.search(lowered, found);
      if (compact.size) {
        const view = compactView(lowered);
        compact.search(
          view.text,
          found,
          (needle, start) =>
            !(options.wholeValues && needle.encoding === "split") &&
            (!needle.bounded || standsAlone(lowered, view, start, needle.text.length)),
        );
      }
      if (hex.size) hex.search(lowered.replace(HEX_MARKS, ""), found);
      if (base64.size) base64.search(folded.replace(/\s+/g, ""), found);
    }
    return [...found.values()]
      .sort((a, b) => a.entry.seq - b.entry.seq)
      .map((n) => ({ id: n.entry.id, kind: n.entry.kind, encoding: n.encoding }));
  }

  /**
   * A matcher for a stream of chunks: a value split across chunks is still found, once. The
   * text is searched each time an eighth of the window has come, together with the window
   * before it (so each character is searched a bounded number of times, whatever the chunk
   * size); `flush` searches what came last.
   */
  streamMatcher(): StreamTaintMatcher {
    let tail = "";
    let fresh = "";
    const seen = new Set<string>();
    const search = (): TaintHit[] => {
      const text = tail + fresh;
      fresh = "";
      const keep = this.window;
      tail = keep ? text.slice(-keep) : "";
      const hits = this.find(text).filter((h) => !seen.has(h.id));
      for (const h of hits) seen.add(h.id);
      return hits;
    };
    const match = (chunk: string): TaintHit[] => {
      fresh += chunk;
      return fresh.length >= Math.max(1, this.window >> 3) ? search() : [];
    };
    return Object.assign(match, { flush: () => fresh ? search() : [] });
  }
}

function publicEntry(e: StoredEntry): TaintEntry {
  return { id: e.id, kind: e.kind, source: e.source, type: e.type };
}
