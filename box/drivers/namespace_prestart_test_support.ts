/** Finding a test home's prestarted launchers from /proc (tests and their helper processes). */

/** The pids of launchers waiting for a spec whose state dir lies in `home`. */
export function launchersOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let cmdline: string;
    try {
      cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
    } catch {
      continue; // ended meanwhile
    }
    const args = cmdline.split("\0");
    // The launcher itself, not the user namespace's holder it forked (its parent is a launcher).
    if (args[1] !== "launch" || args[2] !== "--prestart" || !cmdline.includes(`${home}/`)) continue;
    const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    let parentArgs = "";
    try {
      parentArgs = Deno.readTextFileSync(`/proc/${parent}/cmdline`);
    } catch { /* gone */ }
    if (!parentArgs.includes("--prestart")) pids.push(Number(entry.name));
  }
  return pids;
}

/** The launchers of `home` that are prepared: blocked reading their spec pipe (fd 0). */
export function waitingLaunchers(home: string): number[] {
  return launchersOf(home).filter((pid) => {
    try {
      // Blocked in read(2) (syscall 0 on x86-64) on fd 0: its spec pipe.
      return Deno.readTextFileSync(`/proc/${pid}/syscall`).startsWith("0 0x0 ");
    } catch {
      return false;
    }
  });
}

/**
 * Waits (up to 10 s) until `home` has a prestarted launcher that is prepared: it waits for its
 * spec, blocked reading its stdin. Returns the pids of the home's launchers.
 */
export async function prestartedLaunchers(home: string): Promise<number[]> {
  await pollUntil(() => waitingLaunchers(home).length > 0, 10_000);
  if (waitingLaunchers(home).length === 0) {
    throw new Error(`no prestarted launcher came up in ${home}`);
  }
  return launchersOf(home);
}

/** Polls `done` every 10 ms until it holds or `ms` have passed; the caller asserts which. */
export async function pollUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/** Whether a process runs (and is no zombie). */
export function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2)[0]);
  } catch {
    return false;
  }
}

/** A state dir made ahead for a prestarted launcher: its box id is reserved, no box started in it. */
export interface ReservedStateDir {
  /** The state dir. */
  dir: string;
  /** The reserved box id (its cgroups' name). */
  box: string;
  /** The waiting launcher its pid record names. */
  pid: number;
}

/** The state dirs in `home` whose pid record names a launcher of `home` still waiting for a spec. */
export function reservedStateDirs(home: string): ReservedStateDir[] {
  const waiting = new Set(launchersOf(home));
  const boxesDir = `${home}/box/boxes`;
  const found: ReservedStateDir[] = [];
  for (const entry of Deno.readDirSync(boxesDir)) {
    try {
      const record = JSON.parse(Deno.readTextFileSync(`${boxesDir}/${entry.name}/pid.json`));
      if (waiting.has(record.pid)) {
        found.push({ dir: `${boxesDir}/${entry.name}`, box: record.box, pid: record.pid });
      }
    } catch { /* no record (a box not started yet, a dir made ahead) */ }
  }
  return found;
}
