/**
 * The virtio-mmio transport (virtio 1.x, section 4.2, version 2 registers) for one device
 * backend. It negotiates features, collects each queue's layout, builds a validated
 * {@linkcode Virtqueue} when the guest marks the queue ready, forwards notifications to the
 * backend, and raises the interrupt. A guest that breaks the queue rules puts the device into
 * DEVICE_NEEDS_RESET instead of taking the VMM down.
 */
import type { MmioDevice } from "../bus.ts";
import type { GuestMemory } from "../memory.ts";
import { MAX_QUEUE_SIZE, Virtqueue, VirtqueueError } from "./virtqueue.ts";

/** What a virtio device implements behind the transport. */
export interface VirtioBackend {
  readonly deviceId: number;
  /** Device feature bits (VIRTIO_F_VERSION_1 is added by the transport). */
  readonly features: bigint;
  readonly queueCount: number;
  /** Device-specific configuration space. */
  readonly config: Uint8Array;
  /** The driver set DRIVER_OK: the queues are live. `signal` raises a used-buffer interrupt. */
  activate(queues: Virtqueue[], signal: () => void): void;
  /** The driver notified queue `index`. */
  notify(index: number): void;
  /** The driver reset the device. */
  reset(): void;
}

/** The MMIO window one device occupies. */
export const VIRTIO_MMIO_SIZE = 0x1000;
/** VIRTIO_F_VERSION_1. */
export const VIRTIO_F_VERSION_1 = 1n << 32n;

const MAGIC = 0x74726976; // "virt"
const VENDOR = 0x53334133; // "A3S" plus a byte, little-endian
const STATUS = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 0x40 };
const INT_USED_BUFFER = 1;
const INT_CONFIG_CHANGE = 2;

interface QueueRegisters {
  size: number;
  ready: boolean;
  desc: bigint;
  avail: bigint;
  used: bigint;
  queue?: Virtqueue;
}

function setLow(value: bigint, low: number): bigint {
  return (value & ~0xffffffffn) | BigInt(low >>> 0);
}
function setHigh(value: bigint, high: number): bigint {
  return (value & 0xffffffffn) | (BigInt(high >>> 0) << 32n);
}

/** One virtio-mmio device. */
export class VirtioMmio implements MmioDevice {
  readonly #memory: GuestMemory;
  readonly #backend: VirtioBackend;
  readonly #interrupt: () => void;
  #queues: QueueRegisters[] = [];
  #status = 0;
  #deviceFeaturesSel = 0;
  #driverFeaturesSel = 0;
  #driverFeatures = 0n;
  #queueSel = 0;
  #interruptStatus = 0;
  #configGeneration = 0;
  /** Why the device last went into DEVICE_NEEDS_RESET, for diagnostics and tests. */
  lastError: string | undefined;

  constructor(memory: GuestMemory, backend: VirtioBackend, interrupt: () => void = () => {}) {
    this.#memory = memory;
    this.#backend = backend;
    this.#interrupt = interrupt;
    this.#resetState();
  }

  #resetState(): void {
    this.#queues = Array.from({ length: this.#backend.queueCount }, () => ({
      size: MAX_QUEUE_SIZE,
      ready: false,
      desc: 0n,
      avail: 0n,
      used: 0n,
    }));
    this.#status = 0;
    this.#driverFeatures = 0n;
    this.#interruptStatus = 0;
  }

  get status(): number {
    return this.#status;
  }

  get #features(): bigint {
    return this.#backend.features | VIRTIO_F_VERSION_1;
  }

  #selected(): QueueRegisters | undefined {
    return this.#queues[this.#queueSel];
  }

  #fail(error: VirtqueueError): void {
    this.lastError = error.message;
    this.#status |= STATUS.NEEDS_RESET;
    this.#interruptStatus |= INT_CONFIG_CHANGE;
    this.#interrupt();
  }

  #signal = (): void => {
    this.#interruptStatus |= INT_USED_BUFFER;
    this.#interrupt();
  };

  mmioRead(offset: number, data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (offset >= 0x100) {
      const config = this.#backend.config;
      for (let i = 0; i < data.length; i++) data[i] = config[offset - 0x100 + i] ?? 0;
      return;
    }
    if (data.length !== 4) {
      data.fill(0);
      return;
    }
    view.setUint32(0, this.#register(offset) >>> 0, true);
  }

  #register(offset: number): number {
    const queue = this.#selected();
    switch (offset) {
      case 0x000:
        return MAGIC;
      case 0x004:
        return 2;
      case 0x008:
        return this.#backend.deviceId;
      case 0x00c:
        return VENDOR;
      case 0x010:
        return Number((this.#features >> BigInt(32 * this.#deviceFeaturesSel)) & 0xffffffffn);
      case 0x034:
        return queue && !queue.ready ? MAX_QUEUE_SIZE : queue ? queue.size : 0;
      case 0x044:
        return queue?.ready ? 1 : 0;
      case 0x060:
        return this.#interruptStatus;
      case 0x070:
        return this.#status;
      case 0x0fc:
        return this.#configGeneration;
      default:
        return 0;
    }
  }

  mmioWrite(offset: number, data: Uint8Array): void {
    if (offset >= 0x100 || data.length !== 4) return; // config space is read-only here
    const value = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    const queue = this.#selected();
    switch (offset) {
      case 0x014:
        this.#deviceFeaturesSel = value;
        return;
      case 0x020:
        if (this.#driverFeaturesSel < 2) {
          const shift = BigInt(32 * this.#driverFeaturesSel);
          this.#driverFeatures = (this.#driverFeatures & ~(0xffffffffn << shift)) |
            (BigInt(value) << shift);
        }
        return;
      case 0x024:
        this.#driverFeaturesSel = value;
        return;
      case 0x030:
        this.#queueSel = value;
        return;
      case 0x038:
        if (queue && !queue.ready) queue.size = value;
        return;
      case 0x044:
        if (queue) this.#setReady(queue, value === 1);
        return;
      case 0x050:
        this.#notify(value);
        return;
      case 0x064:
        this.#interruptStatus &= ~value;
        return;
      case 0x070:
        this.#writeStatus(value);
        return;
    }
    if (!queue || queue.ready) return;
    switch (offset) {
      case 0x080:
        queue.desc = setLow(queue.desc, value);
        return;
      case 0x084:
        queue.desc = setHigh(queue.desc, value);
        return;
      case 0x090:
        queue.avail = setLow(queue.avail, value);
        return;
      case 0x094:
        queue.avail = setHigh(queue.avail, value);
        return;
      case 0x0a0:
        queue.used = setLow(queue.used, value);
        return;
      case 0x0a4:
        queue.used = setHigh(queue.used, value);
        return;
    }
  }

  #setReady(queue: QueueRegisters, ready: boolean): void {
    if (!ready) {
      queue.ready = false;
      queue.queue = undefined;
      return;
    }
    try {
      queue.queue = new Virtqueue(this.#memory, {
        size: queue.size,
        desc: queue.desc,
        avail: queue.avail,
        used: queue.used,
      });
      queue.ready = true;
    } catch (error) {
      if (!(error instanceof VirtqueueError)) throw error;
      this.#fail(error);
    }
  }

  #writeStatus(value: number): void {
    if (value === 0) {
      this.#backend.reset();
      this.#resetState();
      return;
    }
    if ((value & STATUS.FEATURES_OK) && !(this.#status & STATUS.FEATURES_OK)) {
      // Refuse FEATURES_OK for features we never offered, or without VERSION_1.
      const unknown = this.#driverFeatures & ~this.#features;
      if (unknown !== 0n || !(this.#driverFeatures & VIRTIO_F_VERSION_1)) {
        value &= ~STATUS.FEATURES_OK;
      }
    }
    const becameLive = (value & STATUS.DRIVER_OK) && !(this.#status & STATUS.DRIVER_OK);
    this.#status = value;
    if (becameLive) {
      const queues = this.#queues.map((queue) => queue.queue);
      if (queues.every((queue): queue is Virtqueue => queue !== undefined)) {
        this.#backend.activate(queues, this.#signal);
      } else {
        this.#fail(new VirtqueueError("DRIVER_OK with queues that are not ready"));
      }
    }
  }

  #notify(index: number): void {
    if (!(this.#status & STATUS.DRIVER_OK) || (this.#status & STATUS.NEEDS_RESET)) return;
    if (index >= this.#queues.length) return;
    try {
      this.#backend.notify(index);
    } catch (error) {
      if (!(error instanceof VirtqueueError)) throw error;
      this.#fail(error);
    }
  }
}
