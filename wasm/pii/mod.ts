/**
 * PII and secret scanner compiled to WebAssembly. One pass over a string finds emails, phone
 * numbers, payment cards, IBANs, US SSNs, Chinese resident IDs, IP addresses and secrets;
 * every candidate is validated (Luhn, mod-97, check digits, issuing rules, entropy) inside the
 * scanner, so look-alikes are not reported. Offsets are UTF-16 code-unit offsets, so
 * `text.slice(start, end)` is the finding.
 *
 * @example
 * ```ts
 * import { scan } from "@a3s/wasm/pii";
 * const [finding] = scan("write to ada@example.org");
 * console.log(finding); // { type: "email", start: 9, end: 24, confidence: 0.95 }
 * ```
 * @module
 */

/** The stable names of what the scanner finds. */
export type PiiType =
  | "email"
  | "phone"
  | "credit_card"
  | "iban"
  | "us_ssn"
  | "cn_id"
  | "ip_address"
  | "secret";

/**
 * Every type, in the order of the codes the WebAssembly module writes (code = index + 1).
 *
 * @example
 * ```ts
 * import { PII_TYPES } from "@a3s/wasm/pii";
 * console.log(PII_TYPES.includes("iban")); // true
 * ```
 */
export const PII_TYPES: readonly PiiType[] = [
  "email",
  "phone",
  "credit_card",
  "iban",
  "us_ssn",
  "cn_id",
  "ip_address",
  "secret",
];

/**
 * One finding: `text.slice(start, end)` is the sensitive value.
 *
 * @example
 * ```ts
 * import type { Finding } from "@a3s/wasm/pii";
 * const finding: Finding = { type: "email", start: 0, end: 15, confidence: 0.95 };
 * ```
 */
export interface Finding {
  /** What was found. */
  type: PiiType;
  /** UTF-16 code-unit offset of the first character. */
  start: number;
  /** UTF-16 code-unit offset just past the last character. */
  end: number;
  /** How sure the scanner is, in [0, 1]. */
  confidence: number;
}

/**
 * What to report.
 *
 * @example
 * ```ts
 * import type { ScannerOptions } from "@a3s/wasm/pii";
 * const options: ScannerOptions = { types: ["secret"], minConfidence: 0.9 };
 * ```
 */
export interface ScannerOptions {
  /** Only these types (default: all). */
  types?: readonly PiiType[];
  /** Drop findings below this confidence (default 0). */
  minConfidence?: number;
}

/**
 * A scanner owns one WebAssembly instance whose buffers are reused by every call.
 *
 * @example
 * ```ts
 * import { createScanner } from "@a3s/wasm/pii";
 * const scanner = createScanner();
 * const results = scanner.scanMany(["ip 10.0.0.1", "nothing here"]);
 * scanner.free();
 * ```
 */
export interface PiiScanner {
  /** Findings in `text`, ordered by start offset. */
  scan(text: string): Finding[];
  /** Findings for each text, in order. */
  scanMany(texts: readonly string[]): Finding[][];
  /**
   * Findings in UTF-8 `bytes`, with no decoding to a string: the fast path for files. Offsets
   * are UTF-16 code units from the start of `bytes`, as if they had been decoded.
   */
  scanBytes(bytes: Uint8Array): Finding[];
  /**
   * A view of `maxBytes` bytes inside the scanner's own memory, for reading UTF-8 straight into
   * (a file's bytes then cross no extra copy); `scanReserved` scans its first bytes. What is
   * written there stays through `scanReserved` and a new `reserveBytes` of no more bytes, but the
   * view must be taken again after each scan, as the findings may grow the memory and detach it;
   * `scan`, `scanMany` and `scanBytes` reuse the same space.
   */
  reserveBytes(maxBytes: number): Uint8Array;
  /** Findings in the first `length` bytes of the `reserveBytes` buffer, as `scanBytes` gives. */
  scanReserved(length: number): Finding[];
  /**
   * The same scan as `scanReserved`, its findings given as UTF-8 JSON instead of objects: the
   * fast path for printing many. The text is the findings' objects as `JSON.stringify` writes
   * them, separated by commas, without the enclosing brackets, every offset moved by `offset`
   * (the units before these bytes in a longer text). It is a view into the scanner's memory,
   * valid until the scanner's next call.
   */
  scanReservedJson(length: number, offset?: number): Uint8Array;
  /** UTF-16 code units that the bytes given to the last `scanBytes` decode to. */
  lastUnits(): number;
  /** Bytes of linear memory the instance holds (bounded by the largest text scanned). */
  readonly memoryBytes: number;
  /** Releases the instance; the scanner cannot be used afterwards. */
  free(): void;
}

interface PiiExports {
  memory: WebAssembly.Memory;
  prepare(maxBytes: number): number;
  scan(bytes: number, units: number): number;
  unitsThrough(bytes: number): number;
  findings(): number;
  findingsJson(offset: number, typeMask: number, minConfidence: number): number;
  jsonText(): number;
}

/**
 * How far past a PEM block's header line the scanner looks for its footer, in bytes: a block
 * that has not ended within it is not reported. Readers that cut text into pieces keep an open
 * block whole within this reach.
 *
 * @example
 * ```ts
 * import { PEM_BLOCK_REACH } from "@a3s/wasm/pii";
 * console.log(PEM_BLOCK_REACH); // 65696
 * ```
 */
export const PEM_BLOCK_REACH: number = 65_536 + 160;

const encoder = new TextEncoder();
const WASM_URL = new URL("../build/pii.wasm", import.meta.url);

async function loadModule(): Promise<WebAssembly.Module> {
  // A local file is read and compiled synchronously: the engine compiles functions lazily, so
  // this is little more than validating 23 KB, and each asynchronous step cost a thread hand-off.
  if (WASM_URL.protocol === "file:") return new WebAssembly.Module(Deno.readFileSync(WASM_URL));
  return await WebAssembly.compile(new Uint8Array(await (await fetch(WASM_URL)).arrayBuffer()));
}

const wasmModule: WebAssembly.Module = await loadModule();

/**
 * Creates a scanner with its own WebAssembly instance.
 *
 * @example
 * ```ts
 * import { createScanner } from "@a3s/wasm/pii";
 * const scanner = createScanner({ types: ["credit_card"] });
 * console.log(scanner.scan("card 4111 1111 1111 1111")[0].type); // "credit_card"
 * scanner.free();
 * ```
 */
export function createScanner(options: ScannerOptions = {}): PiiScanner {
  let exports: PiiExports | undefined = new WebAssembly.Instance(wasmModule, {
    env: {
      abort() {
        throw new Error("pii scanner aborted");
      },
    },
  }).exports as unknown as PiiExports;
  const types = new Set<PiiType>(options.types ?? PII_TYPES);
  // Indexed by the module's type code; a finding is kept when its code is wanted.
  const wanted = [false, ...PII_TYPES.map((type) => types.has(type))];
  const minConfidence = options.minConfidence ?? 0;

  function live(): PiiExports {
    if (!exports) throw new Error("pii scanner was freed");
    return exports;
  }

  function scanOne(text: string): Finding[] {
    const wasm = live();
    // The text crosses once, as UTF-8 via the engine's bulk encoder (no per-character calls);
    // the scanner reads those bytes and returns offsets as string indices.
    const maxBytes = text.length * 3;
    const ptr = wasm.prepare(maxBytes);
    // Views are taken after prepare(): growing memory detaches earlier ones.
    const { written } = encoder.encodeInto(text, new Uint8Array(wasm.memory.buffer, ptr, maxBytes));
    return collect(wasm, wasm.scan(written, text.length));
  }

  let lastBytes = 0;

  function scanBytes(bytes: Uint8Array): Finding[] {
    reserveBytes(bytes.length).set(bytes);
    return scanReserved(bytes.length);
  }

  let reserved = 0;

  function reserveBytes(maxBytes: number): Uint8Array {
    const wasm = live();
    reserved = Math.max(maxBytes, 0);
    const ptr = wasm.prepare(reserved);
    // Taken after prepare(): growing memory detaches earlier views.
    return new Uint8Array(wasm.memory.buffer, ptr, reserved);
  }

  function scanReservedBytes(length: number, caller: string): number {
    const wasm = live();
    if (length < 0 || length > reserved) {
      throw new RangeError(`${caller}: ${length} bytes asked, ${reserved} reserved`);
    }
    lastBytes = length;
    // A unit count that cannot equal the byte count makes the scanner convert every offset.
    return wasm.scan(length, -1);
  }

  function scanReserved(length: number): Finding[] {
    return collect(live(), scanReservedBytes(length, "scanReserved"));
  }

  // The wanted type codes as bits, for the scanner's own JSON writer.
  const typeMask = wanted.reduce((mask, keep, code) => keep ? mask | (1 << code) : mask, 0);

  function scanReservedJson(length: number, offset = 0): Uint8Array {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`scanReservedJson: offset ${offset} is not a whole unit count`);
    }
    const count = scanReservedBytes(length, "scanReservedJson");
    const wasm = live();
    if (count === 0) return new Uint8Array(0);
    const written = wasm.findingsJson(offset, typeMask, minConfidence);
    return new Uint8Array(wasm.memory.buffer, wasm.jsonText(), written);
  }

  function collect(wasm: PiiExports, count: number): Finding[] {
    if (count === 0) return [];
    const raw = new Int32Array(wasm.memory.buffer, wasm.findings(), count * 4);
    const found: Finding[] = [];
    // The scanner emits findings in text order and never overlapping, so no sort is needed.
    for (let k = 0; k < raw.length; k += 4) {
      const code = raw[k];
      const confidence = raw[k + 3] / 1000;
      if (!wanted[code] || confidence < minConfidence) continue;
      found.push({ type: PII_TYPES[code - 1], start: raw[k + 1], end: raw[k + 2], confidence });
    }
    return found;
  }

  return {
    scan: scanOne,
    scanMany: (texts) => texts.map(scanOne),
    scanBytes,
    reserveBytes,
    scanReserved,
    scanReservedJson,
    lastUnits: () => live().unitsThrough(lastBytes),
    get memoryBytes() {
      return live().memory.buffer.byteLength;
    },
    free() {
      exports = undefined;
    },
  };
}

let shared: PiiScanner | undefined;

/**
 * Scans `text` with a shared default scanner.
 *
 * @example
 * ```ts
 * import { scan } from "@a3s/wasm/pii";
 * console.log(scan("SSN 536-22-1947")[0].type); // "us_ssn"
 * ```
 */
export function scan(text: string): Finding[] {
  shared ??= createScanner();
  return shared.scan(text);
}
