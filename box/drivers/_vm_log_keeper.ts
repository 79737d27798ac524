/**
 * A VM box's logs through the same keeper as a namespace box's (agent/log_keeper.c): the process
 * that runs the VM (QEMU, the kvm VMM) is started by `a3s-agent keep-logs`, which gives it pipes
 * to a keeper that rotates each log at the box's bound. One rotation format for every driver, so
 * `log_files.ts` reads them all.
 *
 * Three logs, so that the guest's two streams stay apart and nothing else gets into them:
 * `stdout.log` and `stderr.log` take what the guest's main command writes on its stdout and
 * stderr lines (the VM process writes them to {@linkcode VM_FDS}), and `vm.log` takes the VM
 * process's own messages (its fds 1 and 2) and the guest's console (the kernel's and the
 * agent's messages). A pod's VM has a fourth input: its members' output, as records the keeper
 * sorts into each member's own logs (see `_pod_logs.ts`).
 */
import { join } from "node:path";
import type { LogBound } from "../log_bound.ts";
import type { BoxOutput } from "../types.ts";

/** The fds the VM process writes the guest's output to, each a pipe to the keeper. */
export const VM_FDS = { stdout: 3, stderr: 4, podLogs: 5 } as const;

/** A bound that never rotates: what a box that asks for none gets (`BoxOutput.logBound`). */
export const UNBOUNDED: LogBound = { maxSize: Number.MAX_SAFE_INTEGER, maxFiles: 1 };

/** Where a VM box's own messages and its guest's console go: `vm.log` in its state dir. */
export function vmLogPath(stateDir: string): string {
  return join(stateDir, "vm.log");
}

/** The path through which the VM process opens its fd `fd` (QEMU's chardevs take paths). */
export function vmFdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * The words that go before a VM's host command: `keep-logs` with the box's logs (its bound, or
 * none), `vm.log` in `stateDir`, and a pod VM's member grants in `podLogs`. The command keeps
 * the pid it is started with (`keep-logs` execs it).
 */
export function keptLogsPrefix(
  agent: string,
  output: BoxOutput,
  stateDir: string,
  podLogs?: string,
): string[] {
  const bound = output.logBound ?? UNBOUNDED;
  return [
    agent,
    "keep-logs",
    "--log-max",
    String(bound.maxSize),
    String(bound.maxFiles),
    "--log",
    String(VM_FDS.stdout),
    output.stdoutPath,
    "--log",
    String(VM_FDS.stderr),
    output.stderrPath,
    "--log",
    "1,2",
    vmLogPath(stateDir),
    ...(podLogs ? ["--pod-logs", String(VM_FDS.podLogs), podLogs] : []),
    "--",
  ];
}
