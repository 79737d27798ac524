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
 * Bytes taken in a piece at a time, of which at most `kept` are held: the first part (a share of
 * `headShare`) and the last part. `text()` gives them with a note where bytes were dropped.
 *
 * @example
 * ```ts
 * import { CappedText } from "@a3s/common/capped-text";
 * const log = new CappedText(10, 0);
 * for (let i = 0; i < 5; i++) log.push(new TextEncoder().encode(`line ${i}\n`));
 * console.log(log.text()); // "[... 25 bytes of output dropped ...]\n 3\nline 4\n"
 * ```
 */
export class CappedText {
  readonly #headLimit: number;
  readonly #tailLimit: number;
  readonly #head: Uint8Array[] = [];
  #headLength = 0;
  // The last bytes seen past the head, oldest first, at most `#tailLimit` of them.
  readonly #tail: Uint8Array[] = [];
  #tailLength = 0;
  #dropped = 0;

  /** Holds at most `kept` bytes, `headShare` of them from the start. */
  constructor(kept = COMMAND_OUTPUT_KEPT, headShare = HEAD_SHARE) {
    this.#headLimit = Math.floor(kept * headShare);
    this.#tailLimit = kept - this.#headLimit;
  }

  /** Bytes dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Takes the next bytes; `chunk` is kept by reference, not copied. */
  push(chunk: Uint8Array): void {
    if (this.#headLength < this.#headLimit) {
      const taken = chunk.subarray(0, this.#headLimit - this.#headLength);
      this.#head.push(taken);
      this.#headLength += taken.length;
      chunk = chunk.subarray(taken.length);
    }
    if (chunk.length === 0) return;
    this.#tail.push(chunk);
    this.#tailLength += chunk.length;
    while (this.#tailLength > this.#tailLimit) {
      const excess = this.#tailLength - this.#tailLimit;
      const oldest = this.#tail[0];
      if (oldest.length <= excess) {
        this.#tail.shift();
        this.#tailLength -= oldest.length;
        this.#dropped += oldest.length;
      } else {
        this.#tail[0] = oldest.subarray(excess);
        this.#tailLength -= excess;
        this.#dropped += excess;
      }
    }
  }

  /** What is held, with a note where bytes were dropped. */
  bytes(): Uint8Array<ArrayBuffer> {
    if (this.#dropped === 0) return concat([...this.#head, ...this.#tail]);
    const note = `${
      this.#headLength ? "\n" : ""
    }[... ${this.#dropped} bytes of output dropped ...]\n`;
    return concat([...this.#head, new TextEncoder().encode(note), ...this.#tail]);
  }

  /** What is held, as text, with a note where bytes were dropped. */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/**
 * The text of `stream`, at most `kept` bytes of it: the first 80% and the last 20%, with a note
 * where bytes were dropped. The stream is read to its end.
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
  return (await readCapped(stream, kept)).text();
}

/**
 * {@linkcode readCappedText} for a reader that wants the bytes (the CRI's `ExecSync` answers
 * bytes).
 *
 * @example
 * ```ts
 * import { readCapped } from "@a3s/common/capped-text";
 * const held = await readCapped(new Response("x".repeat(100)).body!, 10);
 * console.log(held.dropped); // 90
 * ```
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  kept = COMMAND_OUTPUT_KEPT,
): Promise<CappedText> {
  const capped = new CappedText(kept);
  for await (const chunk of stream) capped.push(chunk);
  return capped;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}
