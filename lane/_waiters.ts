/** Result promises of jobs, keyed by id, settled once each. */

interface Waiter {
  promise: Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The pending result promises of a scheduler. */
export class Waiters {
  readonly #waiters = new Map<string, Waiter>();

  /** How many jobs are awaited. */
  get size(): number {
    return this.#waiters.size;
  }

  /** The ids of the awaited jobs. */
  ids(): string[] {
    return [...this.#waiters.keys()];
  }

  /** The result promise of job `id`; `created` runs when it is the first for that job. */
  wait(id: string, created?: () => void): Promise<unknown> {
    let waiter = this.#waiters.get(id);
    if (!waiter) {
      const { promise, resolve, reject } = Promise.withResolvers<unknown>();
      waiter = { promise, resolve, reject };
      this.#waiters.set(id, waiter);
      created?.();
    }
    return waiter.promise;
  }

  /** Settles job `id`'s promise, if anyone waits for it. */
  settle(id: string, ok: boolean, value: unknown): void {
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    if (ok) waiter.resolve(value);
    else waiter.reject(value);
  }

  /** Rejects every pending promise with the error `reason(id)` gives. */
  rejectAll(reason: (id: string) => unknown): void {
    for (const [id, waiter] of this.#waiters) waiter.reject(reason(id));
    this.#waiters.clear();
  }
}
