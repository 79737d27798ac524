/** Coalesces calls made close together into one flush. */

/**
 * Returns a function that schedules `flush` after `delayMs` (the next timer turn by default)
 * and resolves every caller when that flush finishes. Deliveries arrive one microtask apart,
 * so a timer turn, not a microtask, is what gathers a batch of them.
 */
export function coalesce(flush: () => Promise<void>, delayMs = 0): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        pending = undefined;
        flush().then(resolve, reject);
      }, delayMs);
    });
    return pending;
  };
}

/**
 * Returns a function that runs `flush` once after the current synchronous run (a microtask)
 * and resolves every caller of that run when it finishes. Use it where the calls of one batch
 * happen in one run, as when a client hands over a whole socket read synchronously: it adds no
 * timer, and a caller's promise settles as soon as its batch is flushed.
 */
export function coalesceRun(flush: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        pending = undefined;
        flush().then(resolve, reject);
      });
    });
    return pending;
  };
}
