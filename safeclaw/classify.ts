/** safeclaw's classify API: which PII and secrets a text holds, and where. */
import { createScanner, type PiiScanner } from "@a3s/wasm/pii";
import type { Detection, EntityType } from "./privacy/entities.ts";
import { detect } from "./privacy/detect.ts";
import { phoneBudget } from "./privacy/phone.ts";
import { type FoldedWindow, foldedWindows, hasFoldable } from "./privacy/fold.ts";
import { DEFAULT_THRESHOLD } from "./privacy/recognizers.ts";

/** The result of classifying one text. */
export interface Classification {
  /** Every finding, ordered by start offset (UTF-16 code units). */
  findings: Detection[];
  /** The distinct types found, in the order they first appear. */
  types: EntityType[];
  /** True when anything was found. */
  sensitive: boolean;
}

/** What to report. */
export interface ClassifierOptions {
  /** Only these types (default: all). */
  types?: readonly EntityType[];
  /**
   * Drop findings below this confidence (default 0.5: weak matches need a context word).
   */
  minConfidence?: number;
}

/** A classifier owns one scanner instance; call `free()` when done with it. */
export interface Classifier {
  /** Finds the PII and secrets in one text. */
  classify(text: string): Classification;
  /** Classifies a batch of texts in one scanner pass each. */
  classifyMany(texts: readonly string[]): Classification[];
  /** Releases the scanner's WebAssembly memory. */
  free(): void;
}

function summarize(findings: Detection[]): Classification {
  const types = [...new Set(findings.map((f) => f.type))];
  return { findings, types, sensitive: findings.length > 0 };
}

/**
 * Adds the findings of the folded windows, mapped back to the text's offsets, to the `plain`
 * ones. A folded finding is kept only where the value itself holds a look-alike (elsewhere the
 * plain pass read the same characters), and not where it overlaps a plain one. Both lists are
 * ordered by start and free of overlaps, so one sweep settles it.
 */
function withFolded(
  text: string,
  plain: Detection[],
  windows: readonly FoldedWindow[],
  find: (text: string) => Detection[],
): Detection[] {
  const added: Detection[] = [];
  let next = 0; // the first plain finding that may still overlap
  for (const { offset, view } of windows) {
    for (const f of find(view.folded)) {
      const start = offset + view.originalStart(f.start);
      const end = offset + view.originalEnd(f.end);
      if (!hasFoldable(text.slice(start, end))) continue;
      while (next < plain.length && plain[next].end <= start) next++;
      if (next < plain.length && plain[next].start < end) continue;
      added.push({ ...f, start, end });
    }
  }
  if (added.length === 0) return plain;
  return [...plain, ...added].sort((a, b) => a.start - b.start);
}

/**
 * Creates a classifier backed by the WebAssembly scanner.
 *
 * @example
 * ```ts
 * import { createClassifier } from "@a3s/safeclaw";
 * const classifier = createClassifier({ types: ["secret"] });
 * console.log(classifier.classify("token: ghp_R4nd0mR4nd0mR4nd0mR4nd0mR4nd0mR4nd").sensitive);
 * classifier.free();
 * ```
 */
export function createClassifier(options: ClassifierOptions = {}): Classifier {
  const scanner: PiiScanner = createScanner();
  const detectOptions = {
    types: options.types ? new Set(options.types) : undefined,
    threshold: options.minConfidence ?? DEFAULT_THRESHOLD,
  };
  const classifyOne = (text: string) => {
    // One phone parse budget for the text and its folded windows together.
    const phones = phoneBudget();
    const find = (part: string) =>
      detect(part, scanner.scan(part), { ...detectOptions, phoneBudget: phones });
    const plain = find(text);
    // Only around look-alike characters: a large log with a stray zero-width space was read
    // twice whole (half the speed).
    const windows = hasFoldable(text) ? foldedWindows(text) : [];
    return summarize(windows.length ? withFolded(text, plain, windows, find) : plain);
  };
  return {
    classify: classifyOne,
    classifyMany: (texts) => texts.map(classifyOne),
    free: () => scanner.free(),
  };
}

let shared: Classifier | undefined;

/**
 * Classifies `text` with a shared classifier that reports every type.
 *
 * @example
 * ```ts
 * import { classify } from "@a3s/safeclaw";
 * console.log(classify("mail ada@example.org").types); // ["email"]
 * ```
 */
export function classify(text: string): Classification {
  shared ??= createClassifier();
  return shared.classify(text);
}

/**
 * Replaces every finding in `text` with `[TYPE]`, e.g. `[EMAIL]`.
 *
 * @example
 * ```ts
 * import { classify, redact } from "@a3s/safeclaw";
 * const text = "mail ada@example.org";
 * console.log(redact(text, classify(text).findings)); // "mail [EMAIL]"
 * ```
 */
export function redact(text: string, findings: readonly Detection[]): string {
  let out = "";
  let last = 0;
  for (const f of findings) {
    if (f.start < last) continue;
    out += text.slice(last, f.start) + `[${f.type.toUpperCase()}]`;
    last = f.end;
  }
  return out + text.slice(last);
}
