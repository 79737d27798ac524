/**
 * Scanning a file at full speed: the file is read as bytes in chunks cut at line ends, straight
 * into the WebAssembly scanner's memory, and never decoded to a string and re-encoded. Offsets
 * are UTF-16 code units from the start of the file, as if it had been read as one string.
 *
 * The reads are synchronous: each asynchronous read is handed to another thread and back, which
 * cost more than the read itself on small machines (about a millisecond a chunk), and a chunk
 * of a megabyte stays in the caches and in memory already mapped, where larger ones cost a page
 * fault every 4 KiB when first touched.
 */
import { type Finding, PEM_BLOCK_REACH, type PiiScanner } from "@a3s/wasm/pii";

/** Bytes read and scanned at a time, unless a line is longer. */
export const CHUNK_BYTES = 1 << 20;

const PEM_HEADER = new TextEncoder().encode("-----BEGIN ");
const PEM_FOOTER = new TextEncoder().encode("-----END ");

/** The last start of `needle` in `haystack[from, to)`, or -1. */
function lastIndexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number, to: number) {
  for (let i = to - needle.length; i >= from; i--) {
    i = haystack.lastIndexOf(needle[0], i);
    if (i < from) return -1;
    let k = 1;
    while (k < needle.length && haystack[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/**
 * Where to cut `bytes[0, end)` so that no value is split: after the last newline, or before the
 * line of a PEM block (the one kind of value that spans lines) that begins near the end and has
 * not ended there. 0 when no such cut exists and the buffer must grow.
 */
function cutPoint(bytes: Uint8Array, end: number): number {
  const nl = lineEndToCut(bytes, end);
  if (nl < 0) return 0;
  const cut = nl + 1;
  const header = lastIndexOfBytes(bytes, PEM_HEADER, Math.max(0, cut - PEM_BLOCK_REACH), cut);
  if (header < 0 || lastIndexOfBytes(bytes, PEM_FOOTER, header, cut) >= 0) return cut;
  // (A negative start would make lastIndexOf search from the end.)
  const headerLine = header > 0 ? bytes.lastIndexOf(0x0a, header - 1) + 1 : 0;
  if (headerLine > 0) return headerLine;
  // The block starts the buffer: a larger one may hold its end, unless it is already too long
  // for the scanner to take it as a block.
  return end < PEM_BLOCK_REACH ? 0 : cut;
}

// How far back a cut may move to keep a card printed over two lines in one chunk.
const JOIN_REACH_BYTES = 4096;

const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;

// A space, a tab or a carriage return: what the scanner passes over beside a line break when it
// looks for a number on the next line or the one before (a table's rows), as the cut does.
const isBlank = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0d;

/**
 * The last newline in `bytes[0, end)` that no value continues across: not one between a digit
 * and a digit, blanks aside (the scanner joins a card printed over two lines, and a row of
 * numbers under it keeps it from being one), nor one followed by blanks alone up to the buffer's
 * end after a digit (what follows is not read yet). The last newline when every one within reach
 * is such a place (a column of numbers); -1 when there is none.
 */
function lineEndToCut(bytes: Uint8Array, end: number): number {
  const last = bytes.lastIndexOf(0x0a, end - 1);
  for (let nl = last; nl >= 0 && last - nl <= JOIN_REACH_BYTES;) {
    let before = nl - 1;
    while (before >= 0 && isBlank(bytes[before])) before--;
    let after = nl + 1;
    while (after < end && isBlank(bytes[after])) after++;
    const digitBefore = before >= 0 && isDigit(bytes[before]);
    if (!digitBefore || (after < end && !isDigit(bytes[after]))) return nl;
    // (A negative start would make lastIndexOf search from the end.)
    nl = nl > 0 ? bytes.lastIndexOf(0x0a, nl - 1) : -1;
  }
  return last;
}

/** What a scan reads besides a file's path: anything with a synchronous read, `Deno.stdin` too. */
export interface SyncReader {
  /** Reads into `buffer`; the number of bytes read, or null at the end. */
  readSync(buffer: Uint8Array): number | null;
}

/**
 * Reads the file at `source` (a path, or a reader) into the scanner's reserved memory and
 * yields the byte length of each chunk once it lies there, cut after a line end; the caller
 * scans it before the next.
 */
function* reservedChunks(
  source: string | SyncReader,
  scanner: PiiScanner,
  chunkBytes: number,
): Generator<number> {
  using opened = typeof source === "string" ? Deno.openSync(source, { read: true }) : undefined;
  const file: SyncReader = opened ?? source as SyncReader;
  let capacity = chunkBytes;
  let buffer = scanner.reserveBytes(capacity);
  let filled = 0;
  let eof = false;
  while (!eof || filled > 0) {
    while (!eof && filled < capacity) {
      const n = file.readSync(buffer.subarray(filled, capacity));
      if (n === null) eof = true;
      else filled += n;
    }
    const cut = eof ? filled : cutPoint(buffer, filled);
    if (cut === 0) {
      // A line (or PEM block) longer than the buffer: grow it rather than cut a value in two.
      const kept = buffer.slice(0, filled);
      capacity *= 2;
      buffer = scanner.reserveBytes(capacity);
      buffer.set(kept);
      continue;
    }
    yield cut;
    // The scan may have grown the scanner's memory, which detaches the old view; the bytes stay.
    buffer = scanner.reserveBytes(capacity);
    buffer.copyWithin(0, cut, filled);
    filled -= cut;
  }
}

/**
 * Scans the file at `path` (or what a reader such as `Deno.stdin` gives) chunk by chunk and
 * yields each chunk's findings, in order.
 *
 * @example
 * ```ts
 * import { createScanner } from "@a3s/wasm/pii";
 * import { scanFile } from "./scan_file.ts";
 * const scanner = createScanner();
 * for (const findings of scanFile("safeclaw/testdata/note.txt", scanner)) console.log(findings);
 * scanner.free();
 * ```
 */
export function* scanFile(
  path: string | SyncReader,
  scanner: PiiScanner,
  chunkBytes = CHUNK_BYTES,
): Generator<Finding[]> {
  let unitBase = 0;
  for (const length of reservedChunks(path, scanner, chunkBytes)) {
    const findings = scanner.scanReserved(length);
    if (unitBase) {
      for (const f of findings) {
        f.start += unitBase;
        f.end += unitBase;
      }
    }
    unitBase += scanner.lastUnits();
    if (findings.length) yield findings;
  }
}

/**
 * Scans the file at `path` (or a reader) like `scanFile`, and yields each chunk's findings as UTF-8 JSON
 * objects separated by commas (no brackets): what a printer needs, with no object made per
 * finding. Each view is valid until the generator is resumed.
 *
 * @example
 * ```ts
 * import { createScanner } from "@a3s/wasm/pii";
 * import { scanFileJson } from "./scan_file.ts";
 * const scanner = createScanner();
 * for (const json of scanFileJson("safeclaw/testdata/note.txt", scanner)) {
 *   console.log(new TextDecoder().decode(json));
 * }
 * scanner.free();
 * ```
 */
export function* scanFileJson(
  path: string | SyncReader,
  scanner: PiiScanner,
  chunkBytes = CHUNK_BYTES,
): Generator<Uint8Array> {
  let unitBase = 0;
  for (const length of reservedChunks(path, scanner, chunkBytes)) {
    const json = scanner.scanReservedJson(length, unitBase);
    unitBase += scanner.lastUnits();
    if (json.length) yield json;
  }
}
