/**
 * Spawning the namespace driver's launcher (`a3s-agent launch --args-from-stdin`), and keeping
 * one spawned ahead of the next start. A launcher waits for its arguments on stdin, so the
 * spawn (a process created, a binary exec'd and scheduled, about a millisecond on a busy host)
 * can happen before the box it will start is known, off that start's path. A long-lived
 * process (`serve`) keeps one ready; a one-shot CLI spawns its one launcher when it starts.
 */
const encoder = new TextEncoder();

/** The argument frame: a 4-byte big-endian length, then every argument ending in NUL. */
export function launcherFrame(args: readonly string[]): Uint8Array {
  const body = encoder.encode(args.map((arg) => `${arg}\0`).join(""));
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}

/**
 * Spawns a launcher of `agent` that waits for its argument frame. Only PATH reaches it (and
 * through it bubblewrap); the box's own environment is set by bubblewrap's arguments.
 */
function spawnLauncher(agent: string, path: string): Deno.ChildProcess {
  const child = new Deno.Command(agent, {
    args: ["launch", "--args-from-stdin"],
    clearEnv: true,
    env: { PATH: path },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // A launcher held ahead keeps no process alive: it exits when its stdin ends with ours.
  child.unref();
  child.status.catch(() => {});
  return child;
}

/** Ends a launcher that was never handed a box: its stdin ends before a frame, so it exits 0. */
async function discard(child: Deno.ChildProcess): Promise<void> {
  // Waited for now: held again, or the wait would not keep this process running.
  child.ref();
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
  await child.status.catch(() => {});
}

/** The launchers of one driver: `take` one for a start, `prepare` the next one ahead. */
export class Launchers {
  #ahead?: { agent: string; child: Deno.ChildProcess };

  /** `keepOneAhead`: whether `prepare` spawns the next start's launcher in advance. */
  constructor(private readonly keepOneAhead: boolean, private readonly path: () => string) {}

  /** A launcher of `agent`: the one spawned ahead when there is one, else a new one. */
  take(agent: string): Deno.ChildProcess {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead?.agent === agent) return ahead.child;
    // The agent binary changed (a rebuilt agent): the old launcher goes unused.
    if (ahead) discard(ahead.child).catch(() => {});
    return spawnLauncher(agent, this.path());
  }

  /** Spawns the next start's launcher now, when this driver keeps one ahead and has none. */
  prepare(agent: string): void {
    if (!this.keepOneAhead || this.#ahead) return;
    this.#ahead = { agent, child: spawnLauncher(agent, this.path()) };
  }

  /** Ends the launcher held ahead, if any. */
  async close(): Promise<void> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead) await discard(ahead.child);
  }
}
