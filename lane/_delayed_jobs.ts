/** Jobs that wait for their `runAt`, in time order, with one timer for the earliest. */

/** What a delayed job needs: when it may run (epoch ms). */
export interface Delayed {
  runAt: number;
}

/** Holds jobs until they are due, then hands them, oldest due first, to `onDue`. */
export class DelayedJobs<J extends Delayed> {
  #jobs: J[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(readonly onDue: (jobs: J[]) => void) {}

  /** Holds `job` until its `runAt`. */
  add(job: J): void {
    const jobs = this.#jobs;
    let lo = 0;
    let hi = jobs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (jobs[mid].runAt <= job.runAt) lo = mid + 1;
      else hi = mid;
    }
    jobs.splice(lo, 0, job);
    this.#arm();
  }

  /** Forgets `job`; false when it was not held. */
  remove(job: J): boolean {
    const at = this.#jobs.indexOf(job);
    if (at < 0) return false;
    this.#jobs.splice(at, 1);
    return true;
  }

  /** Stops the timer; jobs still held never come due. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    const next = this.#jobs[0];
    if (!next || this.#closed) return;
    if (next.runAt >= this.#timerAt && this.#timer !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = next.runAt;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      const now = Date.now();
      let due = 0;
      while (due < this.#jobs.length && this.#jobs[due].runAt <= now) due++;
      const ready = this.#jobs.splice(0, due);
      this.#arm();
      this.onDue(ready);
    }, Math.max(0, next.runAt - Date.now()));
  }
}
