/**
 * Taint tracking: a secret or sensitive value seen in an input or a tool result gets a taint
 * id, and the tracker then recognizes it wherever it reappears, also encoded: base64 (standard
 * and URL-safe, at any byte alignment), hex, URL-encoding (of any of its characters), rot13,
 * reversed, with separators removed, in another case, split across streamed chunks, and a
 * secret cut in two (either half of it).
 */

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
  encoding: string;
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

const MIN_VALUE = 6;
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
    if (core.length >= 8) cores.push(core);
  }
  return cores;
}

function toUrlSafe(b64: string): string {
  return b64.replace(/\+/g, "-").replace(/\//g, "_");
}

function hexOf(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The forms a tracked value is searched in; the haystack is lowercased for `lower` forms. */
interface Needle {
  text: string;
  encoding: string;
  /** Compared against the lowercased text. */
  lower: boolean;
  /** Compared against the text with separators removed. */
  compact: boolean;
}

/** A tracked secret this long or longer is also found by either half of it. */
const MIN_SPLIT_SECRET = 16;
/**
 * Up to this long: a secret of n characters has about n/2 halves to look for, so a private key
 * (thousands of characters) would make every search cost its square. Keys and tokens are shorter.
 */
const MAX_SPLIT_SECRET = 256;

function rot13(text: string): string {
  return text.replace(/[a-z]/gi, (c) => {
    const base = c <= "Z" ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

function needlesFor(value: string, kind: TaintKind): Needle[] {
  const bytes = encoder.encode(value);
  const out: Needle[] = [
    { text: value.toLowerCase(), encoding: "raw", lower: true, compact: false },
    {
      text: [...value].reverse().join("").toLowerCase(),
      encoding: "reversed",
      lower: true,
      compact: false,
    },
    { text: hexOf(bytes), encoding: "hex", lower: true, compact: false },
  ];
  const compact = compactOf(value);
  if (compact.length >= MIN_VALUE && compact !== value.toLowerCase()) {
    out.push({ text: compact, encoding: "compact", lower: true, compact: true });
  }
  // A lone surrogate (half of an emoji cut off) cannot be URL-encoded; as a URL would carry it.
  const urlEncoded = encodeURIComponent(value.toWellFormed());
  if (urlEncoded !== value) {
    out.push({ text: urlEncoded.toLowerCase(), encoding: "url", lower: true, compact: false });
  }
  const rotated = rot13(value).toLowerCase();
  if (rotated !== value.toLowerCase()) {
    out.push({ text: rotated, encoding: "rot13", lower: true, compact: false });
  }
  if (
    kind === "Secret" && compact.length >= MIN_SPLIT_SECRET && compact.length <= MAX_SPLIT_SECRET
  ) {
    // A secret sent in two pieces (two URL parameters, two calls): every window of half its
    // length, so that the longer piece holds one wherever the cut falls.
    const half = Math.ceil(compact.length / 2);
    for (let i = 0; i + half <= compact.length; i++) {
      out.push({ text: compact.slice(i, i + half), encoding: "split", lower: true, compact: true });
    }
  }
  for (const core of base64Cores(bytes)) {
    out.push({ text: core, encoding: "base64", lower: false, compact: false });
    const safe = toUrlSafe(core);
    if (safe !== core) out.push({ text: safe, encoding: "base64", lower: false, compact: false });
  }
  return out;
}

/**
 * What may be put between a value's characters without changing what it says to a reader or a
 * program that strips it: spaces, dashes, dots, colons, slashes, commas, and the characters a
 * terminal or a page shows as nothing (zero-width spaces and joiners, word joiner, BOM, soft
 * hyphen).
 */
const SEPARATORS = /[\s\-_.:/,\u200b-\u200d\u2060\ufeff\u00ad]/g;

function compactOf(text: string): string {
  return text.replace(SEPARATORS, "").toLowerCase();
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

/**
 * The taint registry of one session.
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
  #entries = new Map<string, TaintEntry & { needles: Needle[] }>();
  #byValue = new Map<string, string>();
  #next = 1;
  #longest = 0;

  /** Tracks `value` (at least 6 characters); returns its taint id, the same for a repeat. */
  track(value: string, kind: TaintKind, source: string, type?: string): string {
    const known = this.#byValue.get(value);
    if (known) return known;
    if (value.length < MIN_VALUE) {
      throw new RangeError(`a tracked value needs ${MIN_VALUE}+ characters`);
    }
    const id = `taint-${this.#next++}`;
    const needles = needlesFor(value, kind);
    for (const n of needles) this.#longest = Math.max(this.#longest, n.text.length);
    this.#entries.set(id, { id, kind, source, type, needles });
    this.#byValue.set(value, id);
    return id;
  }

  /** The entry of `id`. */
  get(id: string): TaintEntry | undefined {
    const e = this.#entries.get(id);
    return e && { id: e.id, kind: e.kind, source: e.source, type: e.type };
  }

  /** How many values are tracked. */
  get size(): number {
    return this.#entries.size;
  }

  /** The longest needle: a stream must keep this many characters minus one between chunks. */
  get window(): number {
    return this.#longest;
  }

  /**
   * Every tracked value that `text` carries, in any of its encodings; also once `text` is
   * percent-decoded (`%41%4B…` spells a value however many of its characters are encoded).
   */
  find(text: string): TaintHit[] {
    if (this.#entries.size === 0) return [];
    const views = [text];
    const decoded = percentDecoded(text);
    if (decoded !== text) views.push(decoded);
    const lower = views.map((v) => v.toLowerCase());
    let compact: string[] | undefined;
    const hits: TaintHit[] = [];
    for (const entry of this.#entries.values()) {
      const found = entry.needles.find((needle) => {
        const haystacks = needle.compact
          ? (compact ??= views.map(compactOf))
          : needle.lower
          ? lower
          : views;
        return haystacks.some((haystack) => haystack.includes(needle.text));
      });
      if (found) hits.push({ id: entry.id, kind: entry.kind, encoding: found.encoding });
    }
    return hits;
  }

  /**
   * A matcher for a stream of chunks: each call sees the new chunk together with the end of
   * the previous ones, so a value split across chunks is still found, once.
   */
  streamMatcher(): (chunk: string) => TaintHit[] {
    let tail = "";
    const seen = new Set<string>();
    return (chunk) => {
      const text = tail + chunk;
      const keep = Math.max(0, this.window - 1);
      tail = keep ? text.slice(-keep) : "";
      const fresh = this.find(text).filter((h) => !seen.has(h.id));
      for (const h of fresh) seen.add(h.id);
      return fresh;
    };
  }
}
