/** Coalesces calls made close together into one flush. */
import { setImmediate } from "node:timers";

/** A coalesced flush: call it to join the next flush; `now()` runs a scheduled one at once. */
export interface Coalesced {
  /** Schedules the flush (unless one is scheduled) and resolves when it finishes. */
  (): Promise<void>;
  /**
   * Runs the scheduled flush now instead of at its timer, for a caller that is about to wait
   * on it anyway (a consumer stopping); resolves at once when none is scheduled.
   */
  now(): Promise<void>;
}

/**
 * Returns a function that schedules `flush` after `delayMs` (the next timer turn by default)
 * and resolves every caller when that flush finishes. Deliveries arrive one microtask apart,
 * so a timer turn, not a microtask, is what gathers a batch of them.
 */
export function coalesce(flush: () => Promise<void>, delayMs = 0): Coalesced {
  let pending: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let run: (() => void) | undefined;
  const schedule = (() => {
    pending ??= new Promise<void>((resolve, reject) => {
      run = () => {
        clearTimeout(timer);
        pending = undefined;
        run = undefined;
        flush().then(resolve, reject);
      };
      timer = setTimeout(run, delayMs);
    });
    return pending;
  }) as Coalesced;
  schedule.now = () => {
    const scheduled = pending;
    if (!scheduled || !run) return Promise.resolve();
    run();
    return scheduled;
  };
  return schedule;
}

/**
 * Returns a function that runs `flush` once after the current synchronous run (a microtask)
 * and resolves every caller of that run when it finishes. Use it where the calls of one batch
 * happen in one run, as when a client hands over a whole socket read synchronously: it adds no
 * timer, and a caller's promise settles as soon as its batch is flushed.
 */
export function coalesceRun(flush: () => Promise<void>): () => Promise<void> {
  return coalesceOn(queueMicrotask, flush);
}

/**
 * Returns a function that runs `flush` once the event loop next polls (`setImmediate`, after
 * the current callback and its microtasks) and resolves every caller of that turn when it
 * finishes. It gathers what a timer turn gathers where the calls come from one callback and the
 * promises it settles, as a consumer's batch of deliveries does, for a quarter of the cost: in
 * Deno a `setTimeout` and its `clearTimeout` take some 6.5 µs (a Node-compatible `Timeout`
 * object in a timer list), a `setImmediate` 1.6 µs.
 */
export function coalesceTurn(flush: () => Promise<void>): () => Promise<void> {
  return coalesceOn(setImmediate, flush);
}

/** Runs `flush` once at the next moment `schedule` picks and settles every caller until then. */
function coalesceOn(
  schedule: (run: () => void) => unknown,
  flush: () => Promise<void>,
): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= new Promise<void>((resolve, reject) => {
      schedule(() => {
        pending = undefined;
        flush().then(resolve, reject);
      });
    });
    return pending;
  };
}
