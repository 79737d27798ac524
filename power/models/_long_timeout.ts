/**
 * Timers longer than the platform allows. `setTimeout` holds its delay in a signed 32-bit
 * integer, so anything past about 24.8 days overflows and fires at once (a
 * `TimeoutOverflowWarning`); a long delay is waited out in steps that each fit.
 */

/** The longest delay `setTimeout` honours: 2^31 - 1 milliseconds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Cancels a timer made by {@linkcode setLongTimeout}. */
export type CancelTimer = () => void;

/**
 * Calls `fire` after `ms` milliseconds, however long that is, without keeping the process
 * alive for it. Returns a function that cancels it.
 */
export function setLongTimeout(fire: () => void, ms: number): CancelTimer {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = Date.now() + ms;
  const schedule = (callback: () => void, delay: number) => {
    timer = setTimeout(callback, delay);
    Deno.unrefTimer(timer);
  };
  // Wakes once per step and goes back to sleep until the deadline has passed.
  const wait = () => {
    const left = deadline - Date.now();
    if (left <= 0) fire();
    else schedule(wait, Math.min(left, MAX_TIMER_MS));
  };
  if (ms <= MAX_TIMER_MS) schedule(fire, Math.max(0, ms));
  else wait();
  return () => clearTimeout(timer);
}
