/**
 * A command's output read with a bound on memory. A command can print without end (`yes`, a
 * runaway loop, a prompt injection asking for `cat /dev/urandom`), and collecting all of it
 * would take the process that reads it down. The first part and the last part are kept, the
 * middle is counted and dropped, and the stream is read to its end so the command never blocks
 * on a full pipe. The agent's sandboxes and box's exec answer read output through it.
 *
 * @module
 */

/** Bytes of each stream kept by default: far above any tool output limit, far below harm. */
export const COMMAND_OUTPUT_KEPT = 4 * 1024 * 1024;

/** Of the bytes kept, the share taken from the start; the rest is the end. */
const HEAD_SHARE = 0.8;

/**
 * The text of `stream`, at most `kept` bytes of it: the first 80% and the last 20%, with a note
 * where bytes were dropped.
 *
 * @example
 * ```ts
 * import { readCappedText } from "@a3s/common/capped-text";
 * const text = await readCappedText(new Response("x".repeat(100)).body!, 10);
 * console.log(text.includes("90 bytes of output dropped")); // true
 * ```
 */
export async function readCappedText(
  stream: ReadableStream<Uint8Array>,
  kept = COMMAND_OUTPUT_KEPT,
): Promise<string> {
  const headLimit = Math.floor(kept * HEAD_SHARE);
  const tailLimit = kept - headLimit;
  const head: Uint8Array[] = [];
  let headLength = 0;
  // The last bytes seen past the head, oldest first, at most `tailLimit` of them.
  const tail: Uint8Array[] = [];
  let tailLength = 0;
  let dropped = 0;
  for await (let chunk of stream) {
    if (headLength < headLimit) {
      const taken = chunk.subarray(0, headLimit - headLength);
      head.push(taken);
      headLength += taken.length;
      chunk = chunk.subarray(taken.length);
    }
    if (chunk.length === 0) continue;
    tail.push(chunk);
    tailLength += chunk.length;
    while (tailLength > tailLimit) {
      const excess = tailLength - tailLimit;
      if (tail[0].length <= excess) {
        tailLength -= tail[0].length;
        dropped += tail.shift()!.length;
      } else {
        tail[0] = tail[0].subarray(excess);
        tailLength -= excess;
        dropped += excess;
      }
    }
  }
  const start = decode(head);
  const end = decode(tail);
  if (dropped === 0) return start + end;
  return `${start}\n[... ${dropped} bytes of output dropped ...]\n${end}`;
}

function decode(parts: Uint8Array[]): string {
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(bytes);
}
