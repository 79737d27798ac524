/**
 * A VM box's logs through the same keeper as a namespace box's (agent/log_keeper.c): the process
 * that writes them (QEMU, the kvm VMM) is started by `a3s-agent keep-logs`, which makes its fds 1
 * and 2 pipes to a keeper that rotates `stdout.log` and `stderr.log` at the box's bound. One
 * rotation format for every driver, so `log_files.ts` reads them all.
 */
import type { BoxOutput } from "../types.ts";

/**
 * The words that go before a VM's host command so its fd 1 feeds the stdout log and its fd 2 the
 * stderr log, bounded; empty for an unbounded box, whose command the driver points at the files.
 * The command keeps the pid it is started with (`keep-logs` execs it).
 */
export function keptLogsPrefix(agent: string, output: BoxOutput): string[] {
  const bound = output.logBound;
  if (!bound) return [];
  return [
    agent,
    "keep-logs",
    "--stdout",
    output.stdoutPath,
    "--stderr",
    output.stderrPath,
    "--log-max",
    String(bound.maxSize),
    String(bound.maxFiles),
    "--",
  ];
}
