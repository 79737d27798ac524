/**
 * The ids a durable consumer acknowledged within its de-duplication window, so that a
 * redelivery of one (its ack was lost on the way to the broker) is acknowledged again without
 * running the handler twice.
 *
 * Remembering is on the hot path (every ack) and looking up is not (only redeliveries need
 * it: a first delivery of an id the broker already stored is refused at publish, within the
 * broker's own window). So remembering appends to two arrays, and the hash index is brought
 * up to date only when a lookup comes; a `Map` updated per ack cost ~1 µs of CPU per event,
 * more than the rest of the consumer's bookkeeping together.
 */

/** Ids compacted away from the front of the log at once, at least. */
const COMPACT_AT = 4096;

/** Acknowledged ids with their expiry, oldest first. */
export class RecentIds {
  readonly #windowMs: number;
  readonly #max: number;
  #ids: string[] = [];
  #until: number[] = [];
  /** First live entry; those before it are pruned. */
  #head = 0;
  /** Entries before this one are in `#index`. */
  #indexed = 0;
  readonly #index = new Map<string, number>();
  #sincePrune = 0;

  /** Remembers ids for `windowMs`, at most `max` of them (the oldest are forgotten first). */
  constructor(windowMs: number, max = 100_000) {
    this.#windowMs = windowMs;
    this.#max = max;
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#ids.length - this.#head;
  }

  /** Remembers `id` as acknowledged at `now`. */
  add(id: string, now: number): void {
    this.#ids.push(id);
    this.#until.push(now + this.#windowMs);
    // Expiry times grow in insertion order, so the expired ones are at the front; pruning
    // every 64 adds keeps the cost per add constant.
    if ((++this.#sincePrune & 63) === 0) this.#prune(now);
  }

  /** True when `id` was remembered and its window has not passed at `now`. */
  has(id: string, now: number): boolean {
    this.#prune(now);
    // Entries pruned before they were ever indexed are skipped.
    if (this.#indexed < this.#head) this.#indexed = this.#head;
    for (; this.#indexed < this.#ids.length; this.#indexed++) {
      this.#index.set(this.#ids[this.#indexed], this.#until[this.#indexed]);
    }
    const until = this.#index.get(id);
    return until !== undefined && until > now;
  }

  #prune(now: number): void {
    const ids = this.#ids;
    const until = this.#until;
    while (
      this.#head < ids.length && (until[this.#head] <= now || ids.length - this.#head > this.#max)
    ) {
      // Only the index entry this log entry made is removed: a later ack of the same id keeps its own.
      if (this.#head < this.#indexed && this.#index.get(ids[this.#head]) === until[this.#head]) {
        this.#index.delete(ids[this.#head]);
      }
      this.#head++;
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 >= ids.length) {
      this.#ids = ids.slice(this.#head);
      this.#until = until.slice(this.#head);
      this.#indexed = Math.max(0, this.#indexed - this.#head);
      this.#head = 0;
    }
  }
}
