/**
 * `a3s safeclaw scan --file F`, the command that must start fastest: it imports neither the
 * argument parser nor anything else that loads Node's compatibility layer (about 17 ms of a
 * 200 ms run), so `safeclaw/cli.ts` hands it the plain form of the command before parsing.
 * Any other form goes through the parser in `cli_scan.ts` and ends in the same scan.
 */
import { fileReadError } from "@a3s/common/run-command";
import { createScanner } from "@a3s/wasm/pii";
import { scanFileJson, type SyncReader } from "./scan_file.ts";

/**
 * The file of `scan --file F` (also `--file=F` and `-f F`) when those are all the arguments,
 * or undefined for any other form, which the full parser reads.
 *
 * @example
 * ```ts
 * import { plainFileScan } from "./cli_scan_file.ts";
 * console.log(plainFileScan(["--file", "big.log"])); // "big.log"
 * console.log(plainFileScan(["--file", "big.log", "--all"])); // undefined
 * ```
 */
export function plainFileScan(args: readonly string[]): string | undefined {
  let file: string | undefined;
  if (args.length === 2 && (args[0] === "--file" || args[0] === "-f")) file = args[1];
  else if (args.length === 1 && args[0].startsWith("--file=")) file = args[0].slice(7);
  // An empty name, or one the parser would read as an option, is the parser's to report.
  return file && !file.startsWith("-") ? file : undefined;
}

/** Writes all of `bytes` to stdout: one write may take only part of them. */
function writeOut(bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/**
 * Streams a file (its path, or a reader such as `Deno.stdin`) through the scanner and prints one
 * JSON array of its findings. The scanner writes the JSON itself and stdout is written
 * synchronously, the file's chunks being read so.
 */
export function scanWholeFile(path: string | SyncReader): void {
  const scanner = createScanner();
  const encoder = new TextEncoder();
  try {
    // The first chunk is read before anything is printed: a missing file prints nothing.
    const chunks = scanFileJson(path, scanner);
    let next = chunks.next();
    writeOut(encoder.encode("["));
    for (let first = true; !next.done; next = chunks.next(), first = false) {
      if (!first) writeOut(encoder.encode(","));
      writeOut(next.value);
    }
    writeOut(encoder.encode("]\n"));
  } catch (error) {
    throw typeof path === "string" ? fileReadError(error, path) : error;
  } finally {
    scanner.free();
  }
}
