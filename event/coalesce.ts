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
