/**
 * Kicking a vCPU out of KVM_RUN. A guest spinning without exits never returns to the VMM on its
 * own, so stop, kill and run timeouts set kvm_run.immediate_exit and send SIGURG to the runner
 * thread blocked in KVM_RUN for that vCPU; the kernel then returns EINTR.
 *
 * A signal whose disposition is the default "ignore" is discarded before it can interrupt
 * anything, so a no-op listener is held while any vCPU exists. SIGURG's default action is to
 * ignore, so a stray kick can never harm the process, and nothing else in Deno uses it. Only the
 * runner threads unblock it. The thread is found through /proc/self/task/<tid>/syscall (ioctl is
 * 16 on x86-64, then the vCPU fd and KVM_RUN).
 */
import { KVM } from "./abi.ts";
import { libc } from "./ffi.ts";

const SYS_IOCTL = 16;
/** SIGURG. */
export const KICK_SIGNAL = 23;

let holders = 0;
const noop = () => {};

/** Keeps the kick signal deliverable while a vCPU exists; call {@linkcode releaseKicks} after. */
export function holdKicks(): void {
  if (holders++ === 0) Deno.addSignalListener("SIGURG", noop);
}

/** Drops one hold taken by {@linkcode holdKicks}. */
export function releaseKicks(): void {
  if (holders > 0 && --holders === 0) Deno.removeSignalListener("SIGURG", noop);
}

/** The thread ids currently inside KVM_RUN on `vcpuFd`. */
export function threadsInKvmRun(vcpuFd: number): number[] {
  const found: number[] = [];
  const fdHex = `0x${vcpuFd.toString(16)}`;
  const runHex = `0x${KVM.RUN.toString(16)}`;
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    let line: string;
    try {
      line = Deno.readTextFileSync(`/proc/self/task/${entry.name}/syscall`);
    } catch {
      continue; // the thread ended meanwhile
    }
    const [nr, fd, request] = line.trim().split(" ");
    if (Number(nr) === SYS_IOCTL && fd === fdHex && request === runHex) {
      found.push(Number(entry.name));
    }
  }
  return found;
}

/** Signals every thread blocked in KVM_RUN on `vcpuFd`; returns how many were signalled. */
export function kickVcpu(vcpuFd: number): number {
  const c = libc();
  const pid = c.getpid();
  let kicked = 0;
  for (const tid of threadsInKvmRun(vcpuFd)) {
    if (c.tgkill(pid, tid, KICK_SIGNAL) === 0) kicked++;
  }
  return kicked;
}
