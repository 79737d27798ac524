/**
 * Scanning a file at full speed: the file is read as bytes in large chunks cut at line ends and
 * handed to the WebAssembly scanner as UTF-8, never decoded to a string and re-encoded. Offsets
 * are UTF-16 code units from the start of the file, as if it had been read as one string.
 */
import type { Finding, PiiScanner } from "@a3s/wasm/pii";

/** Where to cut `bytes` so that no line is split: after the last newline, else all of it. */
function cutPoint(bytes: Uint8Array, end: number): number {
  const nl = bytes.lastIndexOf(0x0a, end - 1);
  return nl >= 0 ? nl + 1 : end;
}

/**
 * Scans the file at `path` chunk by chunk and yields each chunk's findings, in order.
 *
 * @example
 * ```ts
 * import { createScanner } from "@a3s/wasm/pii";
 * import { scanFile } from "./scan_file.ts";
 * const scanner = createScanner();
 * for await (const findings of scanFile("safeclaw/testdata/note.txt", scanner)) console.log(findings);
 * scanner.free();
 * ```
 */
export async function* scanFile(
  path: string,
  scanner: PiiScanner,
  chunkBytes = 8 << 20,
): AsyncGenerator<Finding[]> {
  using file = await Deno.open(path, { read: true });
  // The file is read straight into the scanner's memory: no copy between reading and scanning.
  let capacity = chunkBytes;
  let buffer = scanner.reserveBytes(capacity);
  let filled = 0;
  let unitBase = 0;
  let eof = false;
  while (!eof || filled > 0) {
    while (!eof && filled < capacity) {
      const n = await file.read(buffer.subarray(filled, capacity));
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
    const findings = scanner.scanReserved(cut);
    if (unitBase) {
      for (const f of findings) {
        f.start += unitBase;
        f.end += unitBase;
      }
    }
    unitBase += scanner.lastUnits();
    // The scan may have grown the scanner's memory, which detaches the old view; the bytes stay.
    buffer = scanner.reserveBytes(capacity);
    buffer.copyWithin(0, cut, filled);
    filled -= cut;
    if (findings.length) yield findings;
  }
}
