/**
 * One detection pass: the WebAssembly scanner's validated findings, the phone layer and the
 * pattern recognizers, with context words applied, overlaps settled and the threshold applied.
 */
import type { Finding } from "@a3s/wasm/pii";
import type { Detection, EntityType } from "./entities.ts";
import { hasContext } from "./context.ts";
import { findPhones, judgeScannerPhone, type PhoneBudget } from "./phone.ts";
import { DEFAULT_THRESHOLD, RECOGNIZERS, trimUrl } from "./recognizers.ts";

/** What to report. */
export interface DetectOptions {
  /** Only these types (default: all). */
  types?: ReadonlySet<EntityType>;
  /** Drop detections below this confidence (default {@linkcode DEFAULT_THRESHOLD}). */
  threshold?: number;
  /**
   * The phone layer's parse budget, shared by every call one classification makes (its folded
   * windows too); a fresh one for this call when not given.
   */
  phoneBudget?: PhoneBudget;
}

function runRecognizers(text: string, wanted: (t: EntityType) => boolean): Detection[] {
  const out: Detection[] = [];
  for (const recognizer of RECOGNIZERS) {
    if (!wanted(recognizer.type)) continue;
    recognizer.pattern.lastIndex = 0;
    for (const match of text.matchAll(recognizer.pattern)) {
      const value = recognizer.type === "url" ? trimUrl(match[0]) : match[0];
      if (recognizer.validate && !recognizer.validate(value)) continue;
      const start = match.index;
      const end = start + value.length;
      let confidence = typeof recognizer.confidence === "number"
        ? recognizer.confidence
        : recognizer.confidence(value);
      const lifted = recognizer.contextConfidence;
      if (lifted !== undefined && lifted > confidence) {
        if (hasContext(text, start, end, recognizer.type)) confidence = lifted;
      }
      out.push({ type: recognizer.type, start, end, confidence });
    }
  }
  return out;
}

/**
 * Keeps the strongest of overlapping detections: higher confidence first, then the longer span,
 * then the scanner's finding (listed first). Returns them ordered by start.
 */
export function settleOverlaps(candidates: readonly Detection[]): Detection[] {
  const ranked = candidates.map((d, i) => ({ d, i })).sort((a, b) =>
    b.d.confidence - a.d.confidence ||
    (b.d.end - b.d.start) - (a.d.end - a.d.start) ||
    a.i - b.i
  );
  // Which code units are taken: a candidate is checked over its own span only, so settling
  // stays linear in the text however many candidates there are.
  const end = candidates.reduce((m, d) => Math.max(m, d.end), 0);
  const taken = new Uint8Array(end);
  const kept: Detection[] = [];
  for (const { d } of ranked) {
    let free = true;
    for (let i = d.start; i < d.end && free; i++) free = taken[i] === 0;
    if (!free) continue;
    taken.fill(1, d.start, d.end);
    kept.push(d);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * Combines the scanner's `findings` for `text` with the recognizers' and the phone layer's.
 *
 * @example
 * ```ts
 * import { detect } from "./detect.ts";
 * console.log(detect("Aadhaar 2345 6789 0124", [])); // the Verhoeff-valid number, if valid
 * ```
 */
export function detect(
  text: string,
  findings: readonly Finding[],
  options: DetectOptions = {},
): Detection[] {
  const wanted = (t: EntityType) => options.types === undefined || options.types.has(t);
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  // The scanner judges a phone by its layout; libphonenumber's metadata and the context words
  // decide it as they do the phone layer's own candidates.
  const candidates: Detection[] = findings.filter((f) => wanted(f.type)).map((f) =>
    f.type === "phone" ? judgeScannerPhone(text, f) : f
  );
  // The recognizers only look at text that can hold what they find, so plain prose stays cheap.
  if (/\d/.test(text) || /:\/\/|www\./.test(text)) {
    // Appended one by one: a spread passes each candidate as an argument, and a log with a date
    // on each of 150,000 lines overflowed the stack.
    if (wanted("phone")) {
      for (const phone of findPhones(text, findings, options.phoneBudget)) candidates.push(phone);
    }
    for (const recognized of runRecognizers(text, wanted)) candidates.push(recognized);
  }
  // Settling only what clears the threshold gives the same result (a weaker candidate can only
  // lose to a stronger one) and keeps the sort small.
  return settleOverlaps(candidates.filter((d) => d.confidence >= threshold));
}
