/**
 * The namespace driver's seccomp filter, compiled here to classic BPF (the format bubblewrap's
 * `--seccomp FD` loads). It denies, with EPERM, the system calls that reach past the box's
 * namespaces into the host kernel: mounts, module and kexec loading, tracing other processes,
 * keyrings, eBPF, new namespaces, clocks, swap and reboot. Everything else is allowed, as in
 * Docker's default profile, so ordinary programs run unchanged.
 */
import { X86_64_SYSCALLS } from "./_syscalls_x86_64.ts";

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const RET_KILL_PROCESS = 0x80000000;
const EPERM = 1;
const ENOSYS = 38;

const LD_ABS_W = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

/** Namespace flags a box may not pass to clone: CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const SYS_CLONE = X86_64_SYSCALLS.clone;
const SYS_CLONE3 = X86_64_SYSCALLS.clone3;

/** The denied system calls, by name so the list reads as a policy. */
const DENIED_NAMES = [
  "ptrace",
  "syslog",
  "uselib",
  "vhangup",
  "pivot_root",
  "_sysctl",
  "adjtimex",
  "acct",
  "settimeofday",
  "mount",
  "umount2",
  "swapon",
  "swapoff",
  "reboot",
  "iopl",
  "ioperm",
  "create_module",
  "init_module",
  "delete_module",
  "get_kernel_syms",
  "query_module",
  "quotactl",
  "nfsservctl",
  "lookup_dcookie",
  "clock_settime",
  "kexec_load",
  "add_key",
  "request_key",
  "keyctl",
  "unshare",
  "perf_event_open",
  "name_to_handle_at",
  "open_by_handle_at",
  "clock_adjtime",
  "setns",
  "process_vm_readv",
  "process_vm_writev",
  "finit_module",
  "kexec_file_load",
  "bpf",
  "userfaultfd",
  "open_tree",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
] as const;

/** x86_64 numbers of the denied system calls, by name. */
export const DENIED_SYSCALLS: Readonly<Record<string, number>> = Object.fromEntries(
  DENIED_NAMES.map((name) => [name, X86_64_SYSCALLS[name]]),
);

interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * Builds the filter as the bytes of a `struct sock_filter` array (8 bytes each, little-endian).
 *
 * @example
 * ```ts
 * import { buildSeccompFilter } from "@a3s/box";
 * const bpf = buildSeccompFilter();
 * console.log(bpf.length % 8); // 0
 * ```
 */
export function buildSeccompFilter(): Uint8Array {
  const denied = [...new Set(Object.values(DENIED_SYSCALLS))];
  // Fixed layout, so every jump is a known distance to the shared tails at the end.
  const checks = denied.length;
  const program: Instruction[] = [];
  const at = () => program.length;
  const allowAt = 7 + checks; // after: 5 header, clone, clone3, the denied checks
  const cloneCheckAt = allowAt + 1;
  const enosysAt = cloneCheckAt + 3;
  const epermAt = enosysAt + 1;
  const jumpTo = (target: number) => target - at() - 1;

  program.push({ code: LD_ABS_W, jt: 0, jf: 0, k: 4 }); // arch
  program.push({ code: JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 });
  program.push({ code: RET_K, jt: 0, jf: 0, k: RET_KILL_PROCESS });
  program.push({ code: LD_ABS_W, jt: 0, jf: 0, k: 0 }); // syscall number
  // The x32 ABI would reach the same calls under other numbers.
  program.push({ code: JGE_K, jt: jumpTo(epermAt), jf: 0, k: X32_SYSCALL_BIT });
  program.push({ code: JEQ_K, jt: jumpTo(cloneCheckAt), jf: 0, k: SYS_CLONE });
  // clone3 passes flags in memory a filter cannot read; ENOSYS makes libc fall back to clone.
  program.push({ code: JEQ_K, jt: jumpTo(enosysAt), jf: 0, k: SYS_CLONE3 });
  for (const nr of denied) program.push({ code: JEQ_K, jt: jumpTo(epermAt), jf: 0, k: nr });
  program.push({ code: RET_K, jt: 0, jf: 0, k: RET_ALLOW });
  program.push({ code: LD_ABS_W, jt: 0, jf: 0, k: 16 }); // clone flags, low 32 bits
  program.push({ code: JSET_K, jt: jumpTo(epermAt), jf: 0, k: CLONE_NAMESPACE_FLAGS });
  program.push({ code: RET_K, jt: 0, jf: 0, k: RET_ALLOW });
  program.push({ code: RET_K, jt: 0, jf: 0, k: RET_ERRNO | ENOSYS });
  program.push({ code: RET_K, jt: 0, jf: 0, k: RET_ERRNO | EPERM });
  if (program.length !== epermAt + 1 || program.some((i) => i.jt > 255)) {
    throw new Error("seccomp program layout is inconsistent");
  }

  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach((ins, i) => {
    view.setUint16(i * 8, ins.code, true);
    view.setUint8(i * 8 + 2, ins.jt);
    view.setUint8(i * 8 + 3, ins.jf);
    view.setUint32(i * 8 + 4, ins.k, true);
  });
  return bytes;
}
