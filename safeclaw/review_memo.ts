/**
 * What reviewing a past message gave, remembered. A client sends the whole conversation on every
 * turn, and each past message was classified again each time, so a turn cost as much as the
 * history before it (a conversation's cost grew with the square of its length). A review depends
 * only on the text, where it came from, the policy and the session's vault, whose placeholders
 * never change while kept, so what it gave stays true until the first of them expires: an entry
 * is given a time after which it is forgotten (it holds the message's originals, which must not
 * outlive the vault's).
 */

interface Entry<T> {
  value: T;
  size: number;
  expiresAt: number;
}

/** Options of a {@linkcode ReviewMemo}. */
export interface ReviewMemoOptions {
  /** The clock (tests move it). */
  now?: () => number;
}

/**
 * A map bounded by the total size of what it holds, which forgets the least recently used first.
 *
 * @example
 * ```ts
 * import { ReviewMemo } from "./review_memo.ts";
 * const memo = new ReviewMemo<string>(10);
 * memo.set("a", "x", 6);
 * memo.set("b", "y", 6); // over 10: "a" goes
 * console.log(memo.get("a"), memo.get("b")); // undefined "y"
 * ```
 */
export class ReviewMemo<T> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  #entries = new Map<string, Entry<T>>();
  #size = 0;
  #now: () => number;

  /** @param maxSize the most the entries may add up to (their `size`s) */
  constructor(readonly maxSize: number, options: ReviewMemoOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** The value remembered for `key` and not expired, now the most recently used. */
  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#delete(key, entry);
    if (entry.expiresAt <= this.#now()) return undefined;
    this.#entries.set(key, entry);
    this.#size += entry.size;
    return entry.value;
  }

  /**
   * Remembers `value` for `key` until `expiresAt` (epoch milliseconds; default for ever);
   * `size` counts against `maxSize` (one larger is not kept).
   */
  set(key: string, value: T, size: number, expiresAt = Infinity): void {
    const old = this.#entries.get(key);
    if (old) this.#delete(key, old);
    if (size > this.maxSize || expiresAt <= this.#now()) return;
    this.#entries.set(key, { value, size, expiresAt });
    this.#size += size;
    for (const [oldest, entry] of this.#entries) {
      if (this.#size <= this.maxSize) break;
      this.#entries.delete(oldest);
      this.#size -= entry.size;
    }
  }

  /** Forgets every expired entry (which `get` would not give anyway); returns how many. */
  purgeExpired(): number {
    const now = this.#now();
    let purged = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) continue;
      this.#delete(key, entry);
      purged++;
    }
    return purged;
  }

  #delete(key: string, entry: Entry<T>): void {
    this.#entries.delete(key);
    this.#size -= entry.size;
  }

  /** How many entries it holds, and their total size. */
  get stats(): { entries: number; size: number } {
    return { entries: this.#entries.size, size: this.#size };
  }
}
