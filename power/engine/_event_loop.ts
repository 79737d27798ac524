/**
 * Sharing the event loop with other requests. A generation awaits ONNX Runtime on every step,
 * but those awaits resolve without the event loop ever polling for I/O, so a long generation
 * kept every other request (`/healthz` included) waiting until it ended. A generation now
 * gives the loop a turn whenever it has held it for a while.
 */

/**
 * Longest stretch of work between two turns of the event loop. A turn costs a timer tick (1 to
 * 3 ms), so turns are spaced: every 50 ms keeps that under a few percent of decode time while
 * other requests wait at most about that long.
 */
const MAX_BUSY_MS = 50;

/** Tracks how long one piece of work has held the event loop, and lets it go when too long. */
export class EventLoopShare {
  #since = performance.now();

  /** Gives the event loop a turn (a timer tick, which polls I/O) if this work held it too long. */
  async turn(): Promise<void> {
    if (performance.now() - this.#since < MAX_BUSY_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#since = performance.now();
  }
}
