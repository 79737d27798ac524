/** What the CPU-per-event benches share: timing a drain in wall clock and process CPU. */
import process from "node:process";

/** One drain's wall-clock time and the process's CPU time over it. */
export interface Sample {
  wallMs: number;
  cpuUs: number;
}

/** Times `drain` (which resolves once its events are handled) in wall clock and CPU. */
export async function timed(drain: () => Promise<void>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await drain();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuUs: used.user + used.system };
}

/** A counter whose `done` resolves on the `n`th `hit`. */
export function countTo(n: number): { done: Promise<void>; hit: () => void } {
  let seen = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return { done: promise, hit: () => void (++seen >= n && resolve()) };
}
