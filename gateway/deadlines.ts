/**
 * Deadlines for requests in flight on one shared timer. A timer per request (setTimeout, then
 * clearTimeout when the backend answers in time, as nearly all do) costs more than the rest of
 * the gateway's own work on a small request; one interval that sweeps the pending deadlines
 * every `tickMs` costs nothing per request, at the price of firing up to `tickMs` late.
 */

/** A pending deadline. */
export interface Deadline {
  /** When it expires (ms since the epoch). */
  at: number;
  /** Called once when it expires, unless cancelled first. */
  expire: () => void;
}

/** The pending deadlines and their sweeper. */
export class Deadlines {
  readonly #pending = new Set<Deadline>();
  readonly #tickMs: number;
  #timer?: ReturnType<typeof setInterval>;
  #idleTicks = 0;

  /** `tickMs` bounds how late a deadline may fire. */
  constructor(tickMs = 10) {
    this.#tickMs = tickMs;
  }

  /** Calls `expire` after `ms` unless {@linkcode cancel} comes first. */
  add(ms: number, expire: () => void): Deadline {
    const deadline = { at: Date.now() + ms, expire };
    this.#pending.add(deadline);
    this.#timer ??= setInterval(() => this.#sweep(), this.#tickMs);
    return deadline;
  }

  /** Cancels `deadline`. */
  cancel(deadline: Deadline): void {
    this.#pending.delete(deadline);
  }

  /** How many deadlines are pending. */
  get size(): number {
    return this.#pending.size;
  }

  /** Stops the sweeper; pending deadlines never fire. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  #sweep(): void {
    if (!this.#pending.size) {
      // Keep the interval through short idle gaps (re-arming a timer is what this avoids);
      // after a second with nothing pending, stop so an idle gateway does not wake up.
      if (++this.#idleTicks * this.#tickMs >= 1000) {
        clearInterval(this.#timer);
        this.#timer = undefined;
        this.#idleTicks = 0;
      }
      return;
    }
    this.#idleTicks = 0;
    const now = Date.now();
    for (const deadline of this.#pending) {
      if (deadline.at > now) continue;
      this.#pending.delete(deadline);
      deadline.expire();
    }
  }
}
