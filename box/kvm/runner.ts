/**
 * Runs one vCPU's KVM_RUN on its own worker thread (see runner_worker.ts) and awaits each exit
 * without blocking the event loop.
 */
import { RunnerState } from "./runner_state.ts";

/** The main thread's handle on a vCPU runner worker. */
export class VcpuRunner {
  readonly #worker: Worker;
  readonly #words = new Int32Array(new SharedArrayBuffer(8));
  readonly #ready: Promise<void>;
  #closed = false;

  constructor(vcpuFd: number) {
    this.#worker = new Worker(new URL("./runner_worker.ts", import.meta.url), { type: "module" });
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.onmessage = () => resolve();
      this.#worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`vCPU runner failed: ${event.message}`));
      };
    });
    this.#worker.postMessage({ vcpuFd, control: this.#words.buffer });
  }

  /** Enters the guest once; resolves to KVM_RUN's result (negative errno on failure). */
  async enter(): Promise<number> {
    if (this.#closed) throw new Error("the vCPU runner is closed");
    await this.#ready;
    Atomics.store(this.#words, 0, RunnerState.Run);
    Atomics.notify(this.#words, 0);
    const waiting = Atomics.waitAsync(this.#words, 0, RunnerState.Run);
    if (waiting.async) await waiting.value;
    const result = Atomics.load(this.#words, 1);
    Atomics.store(this.#words, 0, RunnerState.Idle);
    return result;
  }

  /** Ends the worker. The vCPU must not be in KVM_RUN (kick it first). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#words, 0, RunnerState.Quit);
    Atomics.notify(this.#words, 0);
    this.#worker.terminate();
  }
}
