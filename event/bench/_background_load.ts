/**
 * A fixed background load for a bench run: `EVENT_BENCH_BUSY=N` starts N busy-loop processes for
 * the run's duration, so figures at load 0, 1 and 2 can be taken on purpose instead of whenever
 * the shared machine happens to sit there. The loops run at `EVENT_BENCH_BUSY_NICE` (default 0:
 * the other work on a shared machine, tests and trainings, runs at normal priority, and a loop
 * niced to 19 would hardly compete with the bench at all).
 */

/** The busy loops of one run; `stop` kills them. */
export interface BackgroundLoad {
  /** How many loops run. */
  readonly workers: number;
  /** Kills every loop and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `workers` busy loops at `nice` niceness: a shell that spins while this process lives
 * (`kill -0` on its id each turn), so a bench killed outright leaves no loop behind.
 */
export function startBackgroundLoad(workers: number, nice = 0): BackgroundLoad {
  const children: Deno.ChildProcess[] = [];
  for (let i = 0; i < workers; i++) {
    children.push(
      new Deno.Command("nice", {
        args: ["-n", String(nice), "sh", "-c", `while kill -0 ${Deno.pid} 2>/dev/null; do :; done`],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  return {
    workers,
    stop: async () => {
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await Promise.all(children.map((child) => child.status));
    },
  };
}

/** The load `EVENT_BENCH_BUSY` / `EVENT_BENCH_BUSY_NICE` ask for (none when unset or 0). */
export function backgroundLoadFromEnv(): BackgroundLoad | undefined {
  const workers = Number(Deno.env.get("EVENT_BENCH_BUSY") ?? 0);
  if (!Number.isInteger(workers) || workers < 0) {
    throw new Error(`EVENT_BENCH_BUSY: a whole number of busy loops, not '${workers}'`);
  }
  if (workers === 0) return undefined;
  const nice = Number(Deno.env.get("EVENT_BENCH_BUSY_NICE") ?? 0);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
    throw new Error(`EVENT_BENCH_BUSY_NICE: 0 to 19, not '${nice}'`);
  }
  return startBackgroundLoad(workers, nice);
}
