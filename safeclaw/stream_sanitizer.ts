/**
 * Sanitizing a stream of chunks (SSE tokens): text is released only once no sensitive value
 * can still be growing across its end. The sanitizer keeps back the trailing characters that
 * could be the start of a value (the last `holdBack` characters, extended to the last
 * whitespace-free run), and a finding that reaches into the held part waits for more text.
 */
import type { Detection } from "./privacy/entities.ts";
import { type RedactionMode, sanitize, type Vault } from "./sanitize.ts";

/** Options of a stream sanitizer. */
export interface StreamSanitizerOptions {
  /** Finds the values to redact in a text. */
  detect(text: string): Detection[];
  /** How found values are replaced (as {@linkcode sanitize} does). */
  mode?: RedactionMode;
  /** Where originals are kept, for modes that can restore them. */
  vault?: Vault;
  /** Characters kept back at the end (default 48: a grouped card or IBAN with context). */
  holdBack?: number;
  /** A run without whitespace longer than this is released anyway (default 4096). */
  maxHold?: number;
  /**
   * Characters past the hold-back that wait for the next release (default 8): detection then
   * runs once every few tokens instead of on each, at the cost of that much extra delay.
   */
  releaseEvery?: number;
}

/** Feeds chunks in, gets safe text out. */
export interface StreamSanitizer {
  /** Adds a chunk; returns the text that is safe to send now (possibly empty). */
  push(chunk: string): string;
  /** Ends the stream; returns the rest, sanitized. */
  flush(): string;
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
  let pending = "";

  function release(final: boolean): string {
    if (!pending) return "";
    const findings = options.detect(pending);
    let cut = pending.length;
    if (!final) {
      cut = Math.max(0, pending.length - holdBack);
      // Do not split a word: a value may be a long run without spaces (a key, a URL).
      const lastSpace = pending.lastIndexOf(" ", cut);
      const runStart = Math.max(pending.lastIndexOf("\n", cut), lastSpace);
      if (pending.length - runStart <= maxHold) cut = Math.max(0, runStart + 1);
      // A finding that reaches past the cut waits whole.
      for (const f of findings) if (f.start < cut && f.end > cut) cut = f.start;
    }
    const ready = findings.filter((f) => f.end <= cut);
    const out = sanitize(pending.slice(0, cut), ready, mode, options.vault);
    pending = pending.slice(cut);
    return out;
  }

  return {
    push(chunk) {
      pending += chunk;
      return pending.length >= holdBack + releaseEvery ? release(false) : "";
    },
    flush() {
      return release(true);
    },
  };
}
