/**
 * A running container's output, followed once and handed to everyone who wants it: its CRI log
 * file and any attached clients. An attached client gets everything read after it subscribed,
 * and it subscribes before its input is forwarded, so the answer to what it types is never
 * missed (following the box's output afresh per client would start a poll later and could
 * skip it).
 */

/** One piece of a container's output. */
export interface OutputChunk {
  /** Which stream the container wrote it to. */
  stream: "stdout" | "stderr";
  /** The bytes. */
  data: Uint8Array;
}

type Subscriber = (chunk: OutputChunk | undefined) => void;

/** Fans one container's output out to a sink and to subscribers. */
export class OutputTap {
  /** Resolves once the container's output ended (it exited) or the tap was stopped. */
  readonly done: Promise<void>;
  readonly #stop = new AbortController();
  readonly #subscribers = new Set<Subscriber>();
  #finished = false;

  /**
   * Follows `source` until it ends, handing each chunk to `sink` (awaited, so a log file keeps
   * the order) and then to every subscriber.
   */
  constructor(
    source: (signal: AbortSignal) => AsyncIterable<OutputChunk>,
    sink?: (chunk: OutputChunk) => Promise<void>,
  ) {
    this.done = (async () => {
      for await (const chunk of source(this.#stop.signal)) {
        await sink?.(chunk).catch(() => {});
        for (const subscriber of this.#subscribers) subscriber(chunk);
      }
    })().catch(() => {}).finally(() => {
      this.#finished = true;
      for (const subscriber of this.#subscribers) subscriber(undefined);
    });
  }

  /**
   * The output from this call on, until the container's output ends or `signal` aborts. The
   * subscription starts here, not when the result is first read.
   */
  follow(signal: AbortSignal): AsyncIterable<OutputChunk> {
    const queue: (OutputChunk | undefined)[] = [];
    let wake: (() => void) | undefined;
    const push: Subscriber = (chunk) => {
      queue.push(chunk);
      wake?.();
    };
    if (this.#finished) queue.push(undefined);
    else this.#subscribers.add(push);
    const onAbort = () => push(undefined);
    signal.addEventListener("abort", onAbort);
    const subscribers = this.#subscribers;
    return (async function* () {
      try {
        for (;;) {
          while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          const next = queue.shift();
          if (next === undefined) return;
          yield next;
        }
      } finally {
        subscribers.delete(push);
        signal.removeEventListener("abort", onAbort);
      }
    })();
  }

  /** Stops following (the container keeps running). */
  stop(): void {
    this.#stop.abort();
  }
}
