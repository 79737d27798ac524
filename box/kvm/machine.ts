/**
 * A microVM: a {@linkcode Vm} with the standard devices wired in (COM1 console, i8042 reset) and
 * the console's output collected. Guest programs, the Linux boot path and the benchmarks all
 * start from here.
 */
import { COM1, Serial16550 } from "./devices/serial.ts";
import { I8042, I8042_PORT, I8042_PORT_COUNT } from "./devices/i8042.ts";
import { FramePort } from "./devices/frame_port.ts";
import { VIRTIO_MMIO_SIZE, VirtioMmio } from "./devices/virtio_mmio.ts";
import { Vm, type VmOptions, type VmRunResult } from "./vm.ts";
import type { Frame } from "@a3s/wasm/frame";
import { concatBytes } from "../_bytes.ts";

/** Where the frame port's virtio-mmio window and interrupt are (also on Linux's cmdline). */
export const FRAME_PORT = { base: 0xd0000000, irq: 5 } as const;

/**
 * The kernel argument that tells Linux's virtio_mmio driver where the frame port is, for kernels
 * built with `CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES` (Debian's is not: it reads the DSDT instead).
 */
export const FRAME_PORT_CMDLINE = `virtio_mmio.device=4K@0x${
  FRAME_PORT.base.toString(16)
}:${FRAME_PORT.irq}`;

/** Options for {@linkcode Machine.create}. */
export interface MachineOptions extends VmOptions {
  /** Called with each chunk the guest writes to its console, as it is written. */
  onConsole?: (bytes: Uint8Array) => void;
}

/** A VM with its console and reset devices. */
export class Machine {
  readonly vm: Vm;
  readonly serial: Serial16550;
  readonly i8042: I8042;
  readonly #console: Uint8Array[] = [];
  /** performance.now() of the first console byte, for boot timing. */
  firstConsoleByteAt: number | undefined;

  private constructor(vm: Vm, onConsole?: (bytes: Uint8Array) => void) {
    this.vm = vm;
    this.serial = new Serial16550({
      onOutput: (bytes) => {
        this.firstConsoleByteAt ??= performance.now();
        this.#console.push(bytes);
        onConsole?.(bytes);
      },
      interrupt: vm.irqchip ? () => vm.triggerIrq(COM1.irq) : undefined,
    });
    this.i8042 = new I8042(() => vm.requestStop("reset"));
    vm.bus.addPio(COM1.port, 8, this.serial);
    vm.bus.addPio(I8042_PORT, I8042_PORT_COUNT, this.i8042);
  }

  /**
   * Adds the virtio frame port at {@linkcode FRAME_PORT}; `onFrame` gets each frame the guest
   * sends. Returns the port (send frames with it) and its transport (status, errors).
   */
  addFramePort(onFrame: (frame: Frame) => void): { port: FramePort; transport: VirtioMmio } {
    const port = new FramePort(onFrame);
    const vm = this.vm;
    const transport = new VirtioMmio(
      vm.memory,
      port,
      vm.irqchip ? () => vm.triggerIrq(FRAME_PORT.irq) : undefined,
    );
    vm.bus.addMmio(FRAME_PORT.base, VIRTIO_MMIO_SIZE, transport);
    return { port, transport };
  }

  static create(options: MachineOptions): Machine {
    return new Machine(Vm.create(options), options.onConsole);
  }

  /** Everything the guest wrote to its console so far. */
  get consoleBytes(): Uint8Array {
    return concatBytes(...this.#console);
  }

  /** The console output as text. */
  get consoleText(): string {
    return new TextDecoder().decode(this.consoleBytes);
  }

  run(options?: { timeoutMs?: number }): Promise<VmRunResult> {
    return this.vm.run(options);
  }

  close(): void {
    this.vm.close();
  }
}
