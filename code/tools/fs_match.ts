/**
 * Pattern matching for `grep` and `glob` off the main thread, in a worker that is terminated
 * when the call's signal aborts (its timeout or a cancel), with a linear-time engine: a
 * model's pattern can neither stall the event loop nor outlive its call.
 *
 * @module
 */
import { LinearRegExp, UnsupportedPatternError } from "./fs_regex.ts";
import type { MatchReply, MatchRequest } from "./fs_regex_worker.ts";
import { ToolError } from "./tool.ts";

/** A pattern compiled in a {@linkcode PatternMatcher}. */
export interface CompiledPattern {
  /** Its number in the worker. */
  readonly key: number;
}

/**
 * Checks `source` on this thread (quick: linear in its length) and turns a syntax error or a
 * construct the engine lacks into a {@linkcode ToolError} naming `what`.
 */
export function checkPattern(source: string, flags: string, what: string): void {
  try {
    LinearRegExp.compile(source, flags);
  } catch (error) {
    if (error instanceof UnsupportedPatternError) {
      throw new ToolError(
        `${what}: ${error.message}; rewrite it without them (matching runs in linear time)`,
      );
    }
    throw new ToolError(`${what}: ${(error as Error).message}`);
  }
}

/**
 * A matching worker for one tool call.
 *
 * @example
 * ```ts ignore
 * const matcher = PatternMatcher.start(ctx.signal);
 * try {
 *   const p = await matcher.compile("^(a+)+$", "");
 *   console.log(await matcher.lines(p, "aaa\nab")); // [0]
 * } finally {
 *   matcher.close();
 * }
 * ```
 */
export class PatternMatcher {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (reply: MatchReply) => void; reject: (error: unknown) => void }
  >();
  readonly #signal: AbortSignal;
  readonly #onAbort: () => void;
  #next = 0;
  #keys = 0;
  #closed = false;

  private constructor(signal: AbortSignal) {
    this.#signal = signal;
    this.#worker = new Worker(new URL("./fs_regex_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<MatchReply>) => {
      const waiting = this.#pending.get(event.data.id);
      this.#pending.delete(event.data.id);
      waiting?.resolve(event.data);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new Error(`pattern worker failed: ${event.message}`));
    };
    this.#onAbort = () => this.#fail(signal.reason ?? new Error("cancelled"));
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** A worker that is terminated as soon as `signal` aborts. */
  static start(signal: AbortSignal): PatternMatcher {
    signal.throwIfAborted();
    return new PatternMatcher(signal);
  }

  /** Compiles `source` with `flags` in the worker. */
  async compile(source: string, flags: string): Promise<CompiledPattern> {
    const key = this.#keys++;
    await this.#ask({ id: 0, op: "compile", key, source, flags });
    return { key };
  }

  /** The indexes of the lines (`text` split at `\n`) the pattern matches. */
  async lines(pattern: CompiledPattern, text: string): Promise<number[]> {
    const reply = await this.#ask({ id: 0, op: "lines", key: pattern.key, text });
    return reply.ok ? reply.hits ?? [] : [];
  }

  /** Whether the pattern matches each of `items`. */
  async test(pattern: CompiledPattern, items: string[]): Promise<boolean[]> {
    const reply = await this.#ask({ id: 0, op: "test", key: pattern.key, items });
    return reply.ok ? reply.results ?? [] : [];
  }

  /** Terminates the worker; what is still pending fails. */
  close(): void {
    this.#fail(new Error("the pattern matcher was closed"));
  }

  #ask(request: MatchRequest): Promise<MatchReply & { ok: true }> {
    if (this.#closed) {
      return Promise.reject(this.#signal.reason ?? new Error("the pattern matcher was closed"));
    }
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (reply) =>
          reply.ok ? resolve(reply) : reject(new ToolError(`pattern: ${reply.error}`)),
        reject,
      });
      this.#worker.postMessage({ ...request, id });
    });
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#worker.terminate();
    for (const waiting of this.#pending.values()) waiting.reject(error);
    this.#pending.clear();
  }
}
