/**
 * A 16550A UART, the guest's console (COM1 at port 0x3f8, IRQ 4). Enough of the chip for Linux's
 * 8250 driver and for polling guests: divisor latch, interrupt enable and identification, line
 * status (transmitter always empty: output is handed to the host at once), a receive FIFO for
 * host input, scratch and modem registers, and loopback.
 */
import type { PioDevice } from "../bus.ts";

/** Where COM1 lives. */
export const COM1 = { port: 0x3f8, irq: 4 } as const;

const DATA = 0;
const IER = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IIR_NONE = 0x01;
const IIR_THRE = 0x02;
const IIR_RDA = 0x04;
const IIR_FIFO = 0xc0;
const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MSR_DEFAULT = 0xb0; // DCD, DSR, CTS: a terminal is attached
const RX_CAPACITY = 4096;

/** Options for {@linkcode Serial16550}. */
export interface SerialOptions {
  /** Bytes the guest transmitted. */
  onOutput(bytes: Uint8Array): void;
  /** Raises the UART's interrupt line (edge); omit when the VM has no irqchip. */
  interrupt?: () => void;
}

/** The UART. */
export class Serial16550 implements PioDevice {
  readonly #options: SerialOptions;
  readonly #rx: number[] = [];
  #ier = 0;
  #lcr = 0x03;
  #mcr = 0x08;
  #scr = 0;
  #dll = 0x0c; // 9600 baud
  #dlm = 0;
  #fifo = false;
  #thrEmptyPending = false;

  constructor(options: SerialOptions) {
    this.#options = options;
  }

  /** Queues host input for the guest to read (dropped past the FIFO's capacity). */
  input(bytes: Uint8Array): void {
    for (const byte of bytes) {
      if (this.#rx.length < RX_CAPACITY) this.#rx.push(byte);
    }
    if (this.#ier & IER_RDA) this.#options.interrupt?.();
  }

  ioRead(offset: number): number {
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case DATA:
        if (dlab) return this.#dll;
        return this.#rx.shift() ?? 0;
      case IER:
        return dlab ? this.#dlm : this.#ier;
      case IIR_FCR: {
        const fifo = this.#fifo ? IIR_FIFO : 0;
        if ((this.#ier & IER_RDA) && this.#rx.length > 0) return IIR_RDA | fifo;
        if ((this.#ier & IER_THRE) && this.#thrEmptyPending) {
          this.#thrEmptyPending = false; // reading IIR clears a THRE interrupt
          return IIR_THRE | fifo;
        }
        return IIR_NONE | fifo;
      }
      case LCR:
        return this.#lcr;
      case MCR:
        return this.#mcr;
      case LSR:
        return LSR_THRE | LSR_TEMT | (this.#rx.length > 0 ? LSR_DR : 0);
      case MSR:
        return this.#mcr & MCR_LOOP ? (this.#mcr & 0x0f) << 4 : MSR_DEFAULT;
      case SCR:
        return this.#scr;
      default:
        return 0xff;
    }
  }

  ioWrite(offset: number, _size: number, value: number): void {
    const byte = value & 0xff;
    const dlab = (this.#lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case DATA:
        if (dlab) {
          this.#dll = byte;
        } else if (this.#mcr & MCR_LOOP) {
          this.#rx.push(byte);
        } else {
          this.#options.onOutput(Uint8Array.of(byte));
          this.#thrEmptyPending = true;
          if (this.#ier & IER_THRE) this.#options.interrupt?.();
        }
        return;
      case IER:
        if (dlab) {
          this.#dlm = byte;
        } else {
          const enablingThre = !(this.#ier & IER_THRE) && (byte & IER_THRE);
          this.#ier = byte & 0x0f;
          // The transmitter is always empty, so enabling its interrupt fires it at once.
          if (enablingThre) {
            this.#thrEmptyPending = true;
            this.#options.interrupt?.();
          }
        }
        return;
      case IIR_FCR:
        this.#fifo = (byte & 1) !== 0;
        if (byte & 2) this.#rx.length = 0;
        return;
      case LCR:
        this.#lcr = byte;
        return;
      case MCR:
        this.#mcr = byte & 0x1f;
        return;
      case SCR:
        this.#scr = byte;
        return;
    }
  }

  /** The divisor the guest programmed (115200 / divisor is its baud rate). */
  get divisor(): number {
    return (this.#dlm << 8) | this.#dll;
  }
}
