/**
 * sched_yield(2) through libc: hands this thread's CPU to a process it has just woken (the
 * kernel wakes a pipe's reader on its writer's CPU, where it would otherwise wait until this
 * thread blocks). A no-op where FFI is not allowed.
 */

let sched: (() => number) | null | undefined;

/** Yields the CPU once; false where it cannot (no FFI). */
export function yieldCpu(): boolean {
  if (sched === undefined) {
    try {
      const lib = Deno.dlopen("libc.so.6", { sched_yield: { parameters: [], result: "i32" } });
      sched = () => lib.symbols.sched_yield();
    } catch {
      sched = null;
    }
  }
  if (!sched) return false;
  sched();
  return true;
}
