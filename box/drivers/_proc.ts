/** Host process lookups through /proc: liveness that survives pid reuse, and child pids. */
import { A3sError } from "@a3s/common";

/** A process identity: the pid and its start time, so a reused pid is not mistaken for it. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function statFieldsSync(pid: number): string[] | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The identity of a live pid, or undefined when it has gone. */
export async function processIdentity(pid: number): Promise<ProcessIdentity | undefined> {
  const fields = await statFields(pid);
  return fields ? { pid, startTime: fields[19] } : undefined;
}

/** The identity of a live pid read without an async hop (for a box's start path). */
export function processIdentitySync(pid: number): ProcessIdentity | undefined {
  const fields = statFieldsSync(pid);
  return fields ? { pid, startTime: fields[19] } : undefined;
}

/**
 * {@linkcode isAlive} without an async hop: one read of a small /proc file, for the checks every
 * exec and state query makes.
 */
export function isAliveSync(identity: ProcessIdentity): boolean {
  const fields = statFieldsSync(identity.pid);
  return fields !== undefined && fields[0] !== "Z" && fields[0] !== "X" &&
    fields[19] === identity.startTime;
}

/** True while the same process (not a zombie, not a reused pid) runs. */
export async function isAlive(identity: ProcessIdentity): Promise<boolean> {
  const fields = await statFields(identity.pid);
  return fields !== undefined && fields[0] !== "Z" && fields[0] !== "X" &&
    fields[19] === identity.startTime;
}

/** Direct children of a process. */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
    return text.split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Signal numbers by name, for the CLI and the agent protocol. */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
};

/** Parses `9`, `KILL` or `SIGKILL`; undefined when unknown. */
export function parseSignal(value: string): number | undefined {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = value.toUpperCase();
  return SIGNALS[name.startsWith("SIG") ? name : `SIG${name}`];
}

/** The Deno name of a signal number. */
export function signalName(signal: number): Deno.Signal {
  const entry = Object.entries(SIGNALS).find(([, n]) => n === signal);
  if (!entry) throw new RangeError(`unsupported signal ${signal}`);
  return entry[0] as Deno.Signal;
}

/** Polls `running` every 5 ms until it answers false or `ms` have passed. */
export async function waitWhile(running: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && await running()) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Signals the host process a VM runs in (QEMU, or our VMM): only SIGTERM (15) and SIGKILL (9)
 * mean anything to it. Waits up to 5 s for it to end.
 */
export async function signalVmProcess(
  driver: string,
  record: ProcessIdentity | undefined,
  signal: number,
  running: () => Promise<boolean>,
): Promise<void> {
  if (!record || !(await isAlive(record))) return;
  if (signal !== 9 && signal !== 15) {
    throw new A3sError("unsupported", `the ${driver} driver delivers only SIGTERM and SIGKILL`, {
      status: 400,
      field: "signal",
    });
  }
  signalProcess(record.pid, signal === 9 ? "SIGKILL" : "SIGTERM");
  await waitWhile(running, 5000);
}

/** Ends a VM's host process: SIGTERM, then `kill` once the grace period is over. */
export async function stopVmProcess(
  record: ProcessIdentity | undefined,
  graceSeconds: number,
  running: () => Promise<boolean>,
  kill: () => Promise<void>,
): Promise<void> {
  if (!record || !(await isAlive(record))) return;
  signalProcess(record.pid, "SIGTERM");
  await waitWhile(running, graceSeconds * 1000);
  if (await running()) await kill();
}
