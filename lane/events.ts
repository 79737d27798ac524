/** A small synchronous event hub; events are built only while someone listens. */
import type { LaneEvent } from "./types.ts";

/** Receives scheduler events. */
export type LaneListener = (event: LaneEvent) => void;

/**
 * Listeners of one scheduler. A listener that throws is dropped from that delivery only.
 *
 * @example
 * ```ts
 * import { LaneEvents } from "@a3s/lane";
 * const events = new LaneEvents();
 * const stop = events.subscribe((event) => console.log(event.type));
 * stop();
 * ```
 */
export class LaneEvents {
  readonly #listeners: Set<LaneListener> = new Set();

  /** True when at least one listener is subscribed. */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: LaneListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends `event` to every listener. */
  emit(event: LaneEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a faulty listener must not break scheduling
      }
    }
  }
}
