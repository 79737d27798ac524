/**
 * How many tool calls of one session (with its subagents and the calls `batch` makes) run at
 * once. A model reply may ask for any number of calls; each `bash` is a sandbox of its own, so
 * they queue for a slot. A call that waits on calls of its own (`batch`, `task`) gives its slot
 * back while it waits, so nested calls cannot starve their parent.
 */

/** The default number of tool calls a session runs at once. */
export const DEFAULT_MAX_PARALLEL_TOOLS = 8;

/** One call's hold on a slot. */
export interface ToolSlot {
  /** Gives the slot back for good (idempotent). */
  release(): void;
  /**
   * Runs `work` (nested calls) with the slot given back meanwhile, and waits for one again
   * after; nested waits of one holder share one giving back.
   */
  yieldDuring<T>(work: () => Promise<T>): Promise<T>;
}

/** A counting semaphore of tool calls, first come first served. */
export class ToolSlots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  /** At most `limit` calls at once (at least one). */
  constructor(readonly limit: number = DEFAULT_MAX_PARALLEL_TOOLS) {
    this.#free = Math.max(1, Math.floor(limit));
  }

  /** Calls running now. */
  get running(): number {
    return Math.max(1, Math.floor(this.limit)) - this.#free;
  }

  /** Waits for a slot (or until `signal` aborts, which throws its reason). */
  async acquire(signal?: AbortSignal): Promise<ToolSlot> {
    await this.#take(signal);
    let held = true;
    let done = false;
    let nested = 0;
    let regaining: Promise<void> = Promise.resolve();
    const give = () => {
      if (!held) return;
      held = false;
      this.#give();
    };
    return {
      release: () => {
        done = true;
        give();
      },
      yieldDuring: async <T>(work: () => Promise<T>): Promise<T> => {
        if (nested++ === 0) {
          await regaining;
          give();
        }
        try {
          return await work();
        } finally {
          if (--nested === 0 && !done) {
            // A call that ended meanwhile (timed out) hands the slot straight back.
            regaining = this.#take().then(() => {
              if (done) this.#give();
              else held = true;
            });
          }
          await regaining;
        }
      },
    };
  }

  #take(signal?: AbortSignal): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(wake);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal!.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(wake);
    });
  }

  #give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}
