/**
 * The frame port: a virtio console device (ID 3, one port, no multiport) whose byte stream is
 * the host/guest frame protocol of `@a3s/wasm/frame`. Queue 0 (receiveq) carries host-to-guest
 * bytes into buffers the guest posts; queue 1 (transmitq) carries guest-to-host bytes, decoded
 * into frames as they arrive. Host frames wait in a bounded outbox until the guest posts room.
 */
import { encodeFrame, type Frame, FrameDecoder, type FrameInit } from "@a3s/wasm/frame";
import type { VirtioBackend } from "./virtio_mmio.ts";
import { readChain, type Virtqueue, VirtqueueError, writeChain } from "./virtqueue.ts";

const RECEIVE_QUEUE = 0;
const TRANSMIT_QUEUE = 1;
/** Host bytes waiting for guest buffers, at most. */
const OUTBOX_LIMIT = 4 * 1024 * 1024;

/** The frame port's host side. */
export class FramePort implements VirtioBackend {
  readonly deviceId = 3;
  readonly features = 0n;
  readonly queueCount = 2;
  /** virtio_console_config: cols, rows, max_nr_ports (1), emerg_wr. */
  readonly config: Uint8Array = Uint8Array.of(80, 0, 25, 0, 1, 0, 0, 0, 0, 0, 0, 0);
  readonly #onFrame: (frame: Frame) => void;
  #decoder = new FrameDecoder();
  #queues: Virtqueue[] = [];
  #signal: () => void = () => {};
  #outbox: Uint8Array[] = [];
  #outboxBytes = 0;

  constructor(onFrame: (frame: Frame) => void) {
    this.#onFrame = onFrame;
  }

  /** Whether the guest driver brought the device up. */
  get active(): boolean {
    return this.#queues.length === this.queueCount;
  }

  /** Sends a frame to the guest; it waits in the outbox until the guest has buffers. */
  send(frame: FrameInit): void {
    const bytes = encodeFrame(frame);
    if (this.#outboxBytes + bytes.length > OUTBOX_LIMIT) {
      throw new Error("the guest is not reading its frame port (outbox full)");
    }
    this.#outbox.push(bytes);
    this.#outboxBytes += bytes.length;
    this.#flush();
  }

  activate(queues: Virtqueue[], signal: () => void): void {
    this.#queues = queues;
    this.#signal = signal;
    this.#flush();
  }

  notify(index: number): void {
    if (index === TRANSMIT_QUEUE) this.#drainTransmit();
    else if (index === RECEIVE_QUEUE) this.#flush();
  }

  reset(): void {
    this.#queues = [];
    this.#decoder = new FrameDecoder();
  }

  #drainTransmit(): void {
    const queue = this.#queues[TRANSMIT_QUEUE];
    if (!queue) return;
    let returned = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const bytes = readChain(chain);
      queue.push(chain.head, 0);
      returned = true;
      let frames: Frame[];
      try {
        frames = this.#decoder.push(bytes);
      } catch (error) {
        throw new VirtqueueError(`the guest sent a malformed frame: ${(error as Error).message}`);
      }
      for (const frame of frames) this.#onFrame(frame);
    }
    if (returned) this.#signal();
  }

  #flush(): void {
    const queue = this.#queues[RECEIVE_QUEUE];
    if (!queue) return;
    let filled = false;
    while (this.#outbox.length > 0) {
      const chain = queue.pop();
      if (!chain) break;
      const head = this.#outbox[0];
      const written = writeChain(chain, head);
      queue.push(chain.head, written);
      filled = true;
      this.#outboxBytes -= written;
      if (written === head.length) this.#outbox.shift();
      else this.#outbox[0] = head.subarray(written);
    }
    if (filled) this.#signal();
  }
}
