/**
 * An attached namespace box's output: the two pipes the agent tees the main command's stdout and
 * stderr to (besides the logs), read as they fill and yielded in the order each stream wrote.
 */
import type { OutputChunk } from "../types.ts";

/** What the driver hands over once the agent's ready byte has come through the stdout pipe. */
export interface AttachedPipes {
  /** The stdout pipe's reader, past the ready byte. */
  stdout: ReadableStreamDefaultReader<Uint8Array>;
  /** What came in the ready byte's read after it: the first stdout bytes, if any. */
  stdoutHead: Uint8Array;
  /** The stderr pipe. */
  stderr: ReadableStream<Uint8Array>;
  /**
   * Called once the caller has the head (or at once when there is none, or when the caller
   * leaves first): work the first byte need not wait for.
   */
  afterHead?(): void;
  /**
   * Called when both pipes ended: the box may be ending (the agent closes them on exit) or the
   * caller fell behind (the agent dropped them); the driver waits here for the first case, so
   * whoever reads on finds the box ended rather than a box in its last microseconds.
   */
  ended(): Promise<void>;
  /**
   * Keeps this process alive while the caller reads (the launcher was spawned unreferenced, its
   * pipes with it, so a box never holds its starter up) and lets go again.
   */
  hold(held: boolean): void;
}

/**
 * Yields the chunks of both pipes as they arrive. Returning early (a `break` in the caller's
 * loop) cancels both reads: the agent sees the pipes go and the box keeps logging.
 */
export async function* attachedOutput(pipes: AttachedPipes): AsyncGenerator<OutputChunk> {
  type Stream = "stdout" | "stderr";
  type Read = { stream: Stream; result: ReadableStreamReadResult<Uint8Array> };
  let readers: Record<Stream, ReadableStreamDefaultReader<Uint8Array>> | undefined;
  let finished = false;
  let held = false;
  let headDone = false;
  const afterHead = () => {
    if (headDone) return;
    headDone = true;
    pipes.afterHead?.();
  };
  try {
    // Held before the caller gets anything: a caller that awaits its own write of the head lets
    // the launcher's exit be seen meanwhile, after which there is nothing left to hold.
    pipes.hold(true);
    held = true;
    // The head came in the ready byte's read: the caller has it before any read is set up or
    // the work after the head is done (both wait until the caller asks for more).
    if (pipes.stdoutHead.length > 0) yield { stream: "stdout", data: pipes.stdoutHead };
    afterHead();
    const open = { stdout: pipes.stdout, stderr: pipes.stderr.getReader() };
    readers = open;
    const next = (stream: Stream): Promise<Read> =>
      open[stream].read().then(
        (result) => ({ stream, result }),
        // A pipe that fails to read ends like one that closed; the logs have everything.
        () => ({ stream, result: { done: true, value: undefined } }),
      );
    const pending = new Map<Stream, Promise<Read>>([["stdout", next("stdout")], [
      "stderr",
      next("stderr"),
    ]]);
    while (pending.size > 0) {
      const { stream, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(stream);
        continue;
      }
      pending.set(stream, next(stream));
      if (result.value.length > 0) yield { stream, data: result.value };
    }
    finished = true;
    await pipes.ended();
  } finally {
    afterHead();
    if (!finished) {
      if (readers) { for (const reader of Object.values(readers)) reader.cancel().catch(() => {}); }
      else {
        pipes.stdout.cancel().catch(() => {});
        pipes.stderr.cancel().catch(() => {});
      }
    }
    if (held) pipes.hold(false);
  }
}
