/**
 * A durable consumer's acknowledgements on their way to the broker, and the ids whose ack may
 * not have arrived, so that the redelivery such a lost ack brings is acknowledged again
 * without running the handler twice.
 *
 * An ack the broker confirmed (the provider's ack promise resolved) is never redelivered, so
 * only the ids of acks that failed need remembering, for the de-duplication window. The acks
 * of one broker flush share one promise; their ids are kept in one array that is simply
 * dropped when the flush succeeds. (Remembering every acknowledged id in a map cost ~1 µs of
 * CPU per event, mostly the garbage collector moving the kept ids to the old generation.)
 */
import type { Logger } from "@a3s/common";
import { RecentIds } from "./recent_ids.ts";

/** Acknowledgements in flight and the ids of those that failed. */
export class AcksInFlight {
  readonly #failed: RecentIds;
  readonly #logger?: Logger;
  /** Flushes not yet settled; `settled()` waits for them. */
  readonly #flushes = new Set<Promise<void>>();
  #last?: Promise<void>;
  #lastIds: string[] = [];

  /** Ids of failed acks are remembered for `windowMs`, at most `max` of them. */
  constructor(windowMs: number, max: number, logger?: Logger) {
    this.#failed = new RecentIds(windowMs, max);
    this.#logger = logger;
  }

  /** Follows `ack`, the broker's promise for the ack of event `id`. */
  track(ack: Promise<void>, id: string): void {
    if (ack === this.#last) {
      this.#lastIds.push(id);
      return;
    }
    const ids = [id];
    this.#last = ack;
    this.#lastIds = ids;
    const followed: Promise<void> = ack.then(
      () => void this.#flushes.delete(followed),
      (error) => {
        this.#flushes.delete(followed);
        const now = Date.now();
        for (const failed of ids) this.#failed.add(failed, now);
        this.#logger?.error("could not acknowledge; the events will be redelivered", {
          events: ids.length,
          error: String(error),
        });
      },
    );
    this.#flushes.add(followed);
  }

  /** True when an ack of `id` failed within the window: its redelivery was handled already. */
  failedRecently(id: string): boolean {
    return this.#failed.size > 0 && this.#failed.has(id, Date.now());
  }

  /** Resolves once every ack tracked so far has succeeded or failed. */
  async settled(): Promise<void> {
    while (this.#flushes.size > 0) await Promise.all(this.#flushes);
  }
}
