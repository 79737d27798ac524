/**
 * Sanitizing a stream of chunks (SSE tokens): text is released only once no sensitive value
 * can still be growing across its end. The sanitizer keeps back the trailing characters that
 * could be the start of a value (the last `holdBack` characters, extended to the last
 * whitespace-free run), and a finding that reaches into the held part waits for more text. A
 * PEM block (a private key), the one value that spans lines, waits from its header line until
 * its footer line has come.
 */
import type { Detection } from "./privacy/entities.ts";
import { PEM_BLOCK_REACH } from "@a3s/wasm/pii";
import { CONTEXT_BEFORE } from "./privacy/context.ts";
import { type RedactionMode, sanitize, type Vault, type VaultOrigin } from "./sanitize.ts";

/** Options of a stream sanitizer. */
export interface StreamSanitizerOptions {
  /** Finds the values to redact in a text. */
  detect(text: string): Detection[];
  /** How found values are replaced (as {@linkcode sanitize} does). */
  mode?: RedactionMode;
  /** Where originals are kept, for modes that can restore them. */
  vault?: Vault;
  /** What the vault records new values as (default `output`: a stream is a reply). */
  origin?: VaultOrigin;
  /** Characters kept back at the end (default 48: a grouped card or IBAN with context). */
  holdBack?: number;
  /**
   * A run without whitespace longer than this is not held whole (default 4096): it is cut after
   * its last quote or delimiter within this many characters, else the hold-back from its end.
   */
  maxHold?: number;
  /**
   * Characters past the hold-back that wait for the next release (default 8): detection then
   * runs once every few tokens instead of on each, at the cost of that much extra delay.
   */
  releaseEvery?: number;
  /**
   * Characters of text already released that `detect` sees before the held text (default 48,
   * as far back as the classifier looks for a context word): a word such as "call me" or "date
   * of birth" sent earlier still lifts a value that comes after it.
   */
  context?: number;
  /** Called with the findings of each release, as they are replaced (for an audit record). */
  onRedact?: (findings: readonly Detection[]) => void;
}

/** Feeds chunks in, gets safe text out. */
export interface StreamSanitizer {
  /** Adds a chunk; returns the text that is safe to send now (possibly empty). */
  push(chunk: string): string;
  /** Ends the stream; returns the rest, sanitized. */
  flush(): string;
}

const PEM_HEADER = "-----BEGIN ";
const PEM_FOOTER = "-----END ";

/**
 * Where the last PEM block of `text` begins if its footer line has not come yet, else -1; an
 * opening older than the detector's reach is no block, and the text it held is released.
 */
function openBlockAt(text: string): number {
  const header = text.lastIndexOf(PEM_HEADER);
  if (header < 0 || text.length - header > PEM_BLOCK_REACH) return -1;
  return blockClosed(text, header) ? -1 : header;
}

/** Whether the block at `header` has a whole footer line (`-----END …-----`) from `from` on. */
function blockClosed(text: string, header: number, from = header): boolean {
  const footer = text.indexOf(PEM_FOOTER, from);
  return footer >= 0 && text.indexOf("-----", footer + PEM_FOOTER.length) >= 0;
}

const WHITESPACE = new Set(" \t\n\r");
// Characters no value the detector finds holds across a hold-back's length: whitespace, quotes,
// JSON's and markup's delimiters.
const NO_VALUE = new Set(" \t\n\r\"'`,;<>{}[]|\\");

/** The last index in `[floor, from)` whose character is in `set`, or -1. */
function lastIndexIn(text: string, set: Set<string>, from: number, floor: number): number {
  for (let i = Math.min(from, text.length) - 1; i >= Math.max(0, floor); i--) {
    if (set.has(text[i])) return i;
  }
  return -1;
}

/**
 * Creates a stream sanitizer.
 *
 * @example
 * ```ts
 * import { classify, createStreamSanitizer } from "@a3s/safeclaw";
 * const s = createStreamSanitizer({ detect: (t) => classify(t).findings });
 * const out = s.push("mail ada@exa") + s.push("mple.org now") + s.flush();
 * console.log(out); // "mail [EMAIL] now"
 * ```
 */
export function createStreamSanitizer(options: StreamSanitizerOptions): StreamSanitizer {
  const holdBack = options.holdBack ?? 48;
  const maxHold = options.maxHold ?? 4096;
  const mode = options.mode ?? "placeholder";
  const releaseEvery = options.releaseEvery ?? 8;
  const contextChars = options.context ?? CONTEXT_BEFORE;
  const origin = options.origin ?? "output";
  let pending = "";
  // The end of the text already released, given to `detect` for its context words only.
  let released = "";
  // Where an open PEM block begins in `pending`, while its footer has not come; -1 otherwise.
  // Nothing is detected or released meanwhile, so a long block costs one detection, not one a
  // chunk.
  let openBlock = -1;

  function release(final: boolean): string {
    if (!pending) return "";
    const context = released;
    // A finding that begins in the context was cut by an earlier release (a value glued to a
    // run too long to hold whole): its released part is gone, its pending part is redacted.
    const findings = options.detect(context + pending)
      .filter((f) => f.end > context.length)
      .map((f) => ({
        ...f,
        start: Math.max(0, f.start - context.length),
        end: f.end - context.length,
      }));
    let cut = pending.length;
    openBlock = final ? -1 : openBlockAt(pending);
    if (!final) {
      cut = Math.max(0, pending.length - holdBack);
      // Do not split a word: a value may be a long run without spaces (a key, a URL).
      const runStart = lastIndexIn(pending, WHITESPACE, cut, 0);
      if (pending.length - runStart <= maxHold) cut = Math.max(0, runStart + 1);
      else {
        // A run too long to hold whole (minified JSON, a blob) is cut after its last character
        // that no value holds, within the hold limit, rather than inside a value.
        const boundary = lastIndexIn(pending, NO_VALUE, cut, pending.length - maxHold);
        if (boundary >= 0) cut = boundary + 1;
      }
      // A finding that reaches past the cut waits whole.
      for (const f of findings) if (f.start < cut && f.end > cut) cut = f.start;
      if (openBlock >= 0 && openBlock < cut) cut = openBlock;
    }
    const ready = findings.filter((f) => f.end <= cut);
    if (ready.length) options.onRedact?.(ready);
    const out = sanitize(pending.slice(0, cut), ready, mode, options.vault, origin);
    released = contextChars > 0 ? (released + pending.slice(0, cut)).slice(-contextChars) : "";
    pending = pending.slice(cut);
    if (openBlock >= 0) openBlock -= cut;
    return out;
  }

  // Characters pushed since detection last ran: it runs again only after `releaseEvery` more,
  // also while a finding at the end keeps `pending` long.
  let sinceRelease = 0;

  return {
    push(chunk) {
      const from = pending.length;
      pending += chunk;
      sinceRelease += chunk.length;
      if (openBlock >= 0) {
        // Only the new text can close the block, with a footer line begun just before it (its
        // label, such as "ENCRYPTED PRIVATE KEY", is well under 40 characters).
        const footerFrom = Math.max(openBlock, from - PEM_FOOTER.length - 40);
        const waiting = !blockClosed(pending, openBlock, footerFrom) &&
          pending.length - openBlock <= PEM_BLOCK_REACH;
        if (waiting) return "";
        openBlock = -1;
      }
      if (pending.length < holdBack + releaseEvery || sinceRelease < releaseEvery) return "";
      sinceRelease = 0;
      return release(false);
    },
    flush() {
      return release(true);
    },
  };
}

/** Feeds chunks in, gets them back with a vault's placeholders put back. */
export interface StreamRestorer {
  /** Adds a chunk; returns the text ready now, placeholders restored (possibly empty). */
  push(chunk: string): string;
  /** Ends the stream; returns the rest. */
  flush(): string;
}

// The longest placeholder worth waiting for: a type name and a number (`[CREDIT_CARD_12]`).
const PLACEHOLDER_MAX = 64;
const PLACEHOLDER_START = /^\[[A-Z0-9_]*$/;
const RESTORE_CONTEXT = 4096;

/**
 * Puts placeholders back into a stream with `restore` (a vault's): one cut across chunks
 * (`[EMA` then `IL_1]`) is held until its `]` has come. `restore` is also given the end of the
 * text before (`before`), so that it can tell a placeholder inside a link a chunk continues.
 *
 * @example
 * ```ts
 * import { createStreamRestorer, Vault } from "@a3s/safeclaw";
 * const vault = new Vault();
 * const p = vault.placeholderFor("email", "ada@example.org");
 * const r = createStreamRestorer((t) => vault.restore(t, "input"));
 * console.log(r.push(`to ${p.slice(0, 4)}`) + r.push(p.slice(4)) + r.flush()); // "to ada@example.org"
 * ```
 */
export function createStreamRestorer(
  restore: (text: string, before: string) => string,
): StreamRestorer {
  let held = "";
  // The last 4 KiB of what was restored so far: where a link that the next part continues
  // began, also one with spaces in it (a markdown target in `<…>`, an HTML tag's attributes).
  let before = "";
  const run = (text: string) => {
    const out = restore(text, before);
    before = (before + text).slice(-RESTORE_CONTEXT);
    return out;
  };
  return {
    push(chunk) {
      const text = held + chunk;
      const open = text.lastIndexOf("[");
      const partial = open >= 0 && text.length - open <= PLACEHOLDER_MAX &&
        PLACEHOLDER_START.test(text.slice(open));
      const cut = partial ? open : text.length;
      held = text.slice(cut);
      return run(text.slice(0, cut));
    },
    flush() {
      const rest = run(held);
      held = "";
      return rest;
    },
  };
}
