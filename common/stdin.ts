/**
 * Feeding a child process its input. The input is written while its output is read (a command
 * that echoes a large input fills its stdout pipe and waits for a reader), and a command that
 * exits without reading all of it is no error: shells drop input to an exited reader too.
 *
 * @example
 * ```ts
 * import { writeStdin } from "@a3s/common/stdin";
 * import { readCappedText } from "@a3s/common/capped-text";
 * const child = new Deno.Command("cat", { stdin: "piped", stdout: "piped" }).spawn();
 * const [echoed] = await Promise.all([
 *   readCappedText(child.stdout),
 *   writeStdin(child.stdin, new TextEncoder().encode("hello")),
 *   child.status,
 * ]);
 * console.log(echoed); // "hello"
 * ```
 *
 * @module
 */

/** Writes `bytes` to `stream` and closes it; a reader that went away ends the write quietly. */
export async function writeStdin(
  stream: WritableStream<Uint8Array>,
  bytes: Uint8Array,
): Promise<void> {
  const writer = stream.getWriter();
  if (bytes.length) await writer.write(bytes).catch(() => {});
  await writer.close().catch(() => {});
}
