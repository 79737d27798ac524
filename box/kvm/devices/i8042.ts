/**
 * The part of the i8042 keyboard controller a guest uses to reset the machine: writing 0xFE
 * (pulse the reset line) to the command port 0x64. Linux's default reboot path on x86 tries it
 * first. Status reads say "no data, input buffer empty", so drivers probing for a keyboard move on.
 */
import type { PioDevice } from "../bus.ts";

/** Data port 0x60 and command/status port 0x64: one range of 5 ports. */
export const I8042_PORT = 0x60;
export const I8042_PORT_COUNT = 5;

const COMMAND_OFFSET = 4;
const PULSE_RESET = 0xfe;

/** The controller; `onReset` ends the VM's run with reason "reset". */
export class I8042 implements PioDevice {
  readonly #onReset: () => void;
  /** How many resets the guest asked for. */
  resets = 0;

  constructor(onReset: () => void) {
    this.#onReset = onReset;
  }

  ioRead(offset: number): number {
    // Status (0x64): output buffer empty, input buffer empty, system flag set.
    return offset === COMMAND_OFFSET ? 0x04 : 0x00;
  }

  ioWrite(offset: number, _size: number, value: number): void {
    if (offset === COMMAND_OFFSET && (value & 0xff) === PULSE_RESET) {
      this.resets++;
      this.#onReset();
    }
  }
}
