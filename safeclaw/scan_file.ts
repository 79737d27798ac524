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
import type { Finding, PiiScanner } from "@a3s/wasm/pii";

/** Bytes read and scanned at a time, unless a line is longer. */
export const CHUNK_BYTES = 1 << 20;

/** Where to cut `bytes` so that no line is split: after the last newline, else all of it. */
function cutPoint(bytes: Uint8Array, end: number): number {
  const nl = bytes.lastIndexOf(0x0a, end - 1);
  return nl >= 0 ? nl + 1 : end;
}

/**
 * Reads the file at `path` into the scanner's reserved memory and yields the byte length of
 * each chunk once it lies there, cut after a line end; the caller scans it before the next.
 */
function* reservedChunks(path: string, scanner: PiiScanner, chunkBytes: number): Generator<number> {
  using file = Deno.openSync(path, { read: true });
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
    // A line longer than the buffer: grow it rather than cut a value in two.
    let cut = eof ? filled : cutPoint(buffer, filled);
    if (!eof && cut === filled && capacity === filled && buffer.lastIndexOf(0x0a, filled - 1) < 0) {
      const kept = buffer.slice(0, filled);
      capacity *= 2;
      buffer = scanner.reserveBytes(capacity);
      buffer.set(kept);
      continue;
    }
    if (cut === 0) cut = filled;
    yield cut;
    // The scan may have grown the scanner's memory, which detaches the old view; the bytes stay.
    buffer = scanner.reserveBytes(capacity);
    buffer.copyWithin(0, cut, filled);
    filled -= cut;
  }
}

/**
 * Scans the file at `path` chunk by chunk and yields each chunk's findings, in order.
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
  path: string,
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
 * Scans the file at `path` like `scanFile`, and yields each chunk's findings as UTF-8 JSON
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
  path: string,
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
