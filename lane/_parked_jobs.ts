/**
 * Jobs set aside because their session or key is at its limit, so the dispatcher does not walk
 * past them again; they go back to their queue when a job of that session or key ends.
 */

/** Parked jobs by what blocks them (`s:<session>` or `k:<key>`). */
export class ParkedJobs<J> {
  readonly #parked = new Map<string, J[]>();

  /** How many blockers have jobs waiting on them. */
  get size(): number {
    return this.#parked.size;
  }

  /** Sets `job` aside until `on` frees up. */
  park(on: string, job: J): void {
    const parked = this.#parked.get(on);
    if (parked) parked.push(job);
    else this.#parked.set(on, [job]);
  }

  /** The jobs waiting on `on`, in the order they were parked; they are no longer held. */
  release(on: string): J[] {
    const parked = this.#parked.get(on);
    if (!parked) return [];
    this.#parked.delete(on);
    return parked;
  }

  /** Forgets `job` wherever it waits; false when it was not parked. */
  remove(job: J): boolean {
    for (const [on, parked] of this.#parked) {
      const index = parked.indexOf(job);
      if (index < 0) continue;
      parked.splice(index, 1);
      if (parked.length === 0) this.#parked.delete(on);
      return true;
    }
    return false;
  }
}
