/**
 * The vCPU thread. It does nothing but KVM_RUN: the main thread flips a shared state word to
 * RUN, this worker enters the guest synchronously, stores the result and flips the word to DONE;
 * the main thread (awaiting with Atomics.waitAsync) handles the exit against the shared kvm_run
 * area and guest RAM, then asks for the next run. Devices stay on the main thread, next to the
 * host side of their links.
 *
 * This thread unblocks SIGURG so a kick (tgkill from the main thread) interrupts KVM_RUN with
 * EINTR; see kick.ts.
 */
import { KVM } from "./abi.ts";
import { errno, libc } from "./ffi.ts";
import { KICK_SIGNAL } from "./kick.ts";
import { RunnerState } from "./runner_state.ts";

interface StartMessage {
  vcpuFd: number;
  control: SharedArrayBuffer;
}

/** The worker global, typed here because the workspace compiles with the window lib. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<StartMessage>) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

const scope = self as unknown as WorkerScope;
const SIG_UNBLOCK = 1;

scope.onmessage = (event: MessageEvent<StartMessage>) => {
  const { vcpuFd, control } = event.data;
  const words = new Int32Array(control);
  const c = libc();
  const set = new Uint8Array(128);
  new DataView(set.buffer).setBigUint64(0, 1n << BigInt(KICK_SIGNAL - 1), true);
  c.pthreadSigmask(SIG_UNBLOCK, set, null);
  scope.postMessage("ready");
  while (true) {
    const state = Atomics.load(words, 0);
    if (state === RunnerState.Quit) break;
    if (state !== RunnerState.Run) {
      // Idle, or Done while the main thread handles the exit: sleep until the word changes
      // (the main thread notifies after storing Run or Quit), never spin.
      Atomics.wait(words, 0, state);
      continue;
    }
    const result = c.ioctlInt(vcpuFd, KVM.RUN, 0n);
    Atomics.store(words, 1, result < 0 ? -errno() : result);
    Atomics.store(words, 0, RunnerState.Done);
    Atomics.notify(words, 0);
  }
  scope.close();
};
