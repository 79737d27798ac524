/**
 * The memory scheduler's finished jobs of one class (completed and cancelled, or dead), by
 * lane in the order they finished, pruned by a retention policy as each one is added: the
 * oldest are at the front, so each prune looks at no job it keeps but the first.
 */
import { LANE_NAMES } from "./lanes.ts";
import { type KeepJobs, keepsAll } from "./retention.ts";

/** What a kept job needs: its lane's rank and when it finished. */
export interface KeptJob {
  readonly rank: number;
  finishedAt: number | null;
}

/**
 * Finished jobs by lane, oldest first; see the module doc.
 *
 * @internal
 */
export class KeptJobs<J extends KeptJob> {
  // a Set keeps insertion order and deletes in O(1): a dead job retried leaves from the middle
  readonly #byRank: Set<J>[] = LANE_NAMES.map(() => new Set<J>());
  readonly #tracked: boolean;

  /** `forget` drops a pruned job from the scheduler. */
  constructor(readonly keep: KeepJobs, readonly forget: (job: J) => void) {
    this.#tracked = !keepsAll(keep);
  }

  /** Keeps `job`, which finished just now, then prunes its lane. */
  add(job: J, now: number): void {
    if (!this.#tracked) return;
    const kept = this.#byRank[job.rank];
    kept.add(job);
    this.#prune(kept, now);
  }

  /** Stops tracking `job`: it left the class (a dead job retried or purged). */
  remove(job: J): void {
    if (this.#tracked) this.#byRank[job.rank].delete(job);
  }

  /** Prunes the jobs past their age in every lane, for reads between finishes. */
  expire(now: number): void {
    if (this.keep.maxAgeMs === undefined) return;
    for (const kept of this.#byRank) if (kept.size) this.#prune(kept, now);
  }

  #prune(kept: Set<J>, now: number): void {
    const { maxAgeMs, maxCount } = this.keep;
    if (maxCount !== undefined) {
      while (kept.size > maxCount) this.#drop(kept, kept.values().next().value!);
    }
    if (maxAgeMs === undefined) return;
    const cutoff = now - maxAgeMs;
    for (const job of kept) {
      if ((job.finishedAt ?? now) > cutoff) break;
      this.#drop(kept, job);
    }
  }

  #drop(kept: Set<J>, job: J): void {
    kept.delete(job);
    this.forget(job);
  }
}
