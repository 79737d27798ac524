/**
 * A split virtqueue (virtio 1.x, section 2.7) read and written in guest RAM. Everything the guest
 * controls is checked before use: ring and table placement, descriptor indices, chain length
 * (a chain longer than the queue is a loop), buffer ranges (inside guest RAM, not wrapping),
 * total chain size, device-readable buffers before device-writable ones, and the available index
 * never running more than a queue's worth ahead. A violation throws {@linkcode VirtqueueError}
 * and touches nothing.
 */
import type { GuestMemory } from "../memory.ts";
import { GuestMemoryError } from "../memory.ts";

const DESC_SIZE = 16;
const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;
/** The most bytes one chain may describe: far above any frame, far below host memory. */
export const MAX_CHAIN_BYTES = 16 * 1024 * 1024;
/** The largest queue this VMM offers. */
export const MAX_QUEUE_SIZE = 256;

/** The guest broke the virtqueue rules; the device stops using the queue. */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VirtqueueError";
  }
}

/** One descriptor chain: device-readable buffers, then device-writable ones (live views). */
export interface DescriptorChain {
  head: number;
  readable: Uint8Array[];
  writable: Uint8Array[];
  readableBytes: number;
  writableBytes: number;
}

/** Where the guest put a queue's parts, as the transport registers report them. */
export interface QueueLayout {
  size: number;
  desc: bigint;
  avail: bigint;
  used: bigint;
}

/** A queue the guest set up and marked ready. */
export class Virtqueue {
  readonly #memory: GuestMemory;
  readonly layout: QueueLayout;
  #lastAvail = 0;
  #usedIdx = 0;

  /** Validates the layout against guest RAM; throws {@linkcode VirtqueueError} when it is bad. */
  constructor(memory: GuestMemory, layout: QueueLayout) {
    const { size, desc, avail, used } = layout;
    if (size === 0 || size > MAX_QUEUE_SIZE || (size & (size - 1)) !== 0) {
      throw new VirtqueueError(`queue size ${size} is not a power of two up to ${MAX_QUEUE_SIZE}`);
    }
    if (desc % 16n !== 0n || avail % 2n !== 0n || used % 4n !== 0n) {
      throw new VirtqueueError("virtqueue parts are misaligned");
    }
    const parts: Array<[string, bigint, number]> = [
      ["descriptor table", desc, DESC_SIZE * size],
      ["available ring", avail, 6 + 2 * size],
      ["used ring", used, 6 + 8 * size],
    ];
    for (const [name, address, length] of parts) {
      try {
        memory.checkRange(address, length);
      } catch (error) {
        if (error instanceof GuestMemoryError) {
          throw new VirtqueueError(`the ${name} lies outside guest memory`);
        }
        throw error;
      }
    }
    this.#memory = memory;
    this.layout = layout;
  }

  /** Chains the guest made available and the device has not taken yet. */
  pending(): number {
    const availIdx = this.#memory.readU16(this.layout.avail + 2n);
    const ahead = (availIdx - this.#lastAvail) & 0xffff;
    if (ahead > this.layout.size) {
      throw new VirtqueueError(
        `the available index ran ${ahead} entries ahead of a queue of ${this.layout.size}`,
      );
    }
    return ahead;
  }

  /** Takes the next available chain, or undefined when there is none. */
  pop(): DescriptorChain | undefined {
    if (this.pending() === 0) return undefined;
    const slot = this.#lastAvail % this.layout.size;
    const head = this.#memory.readU16(this.layout.avail + 4n + BigInt(2 * slot));
    const chain = this.#walk(head);
    this.#lastAvail = (this.#lastAvail + 1) & 0xffff;
    return chain;
  }

  #walk(head: number): DescriptorChain {
    const { size, desc } = this.layout;
    const chain: DescriptorChain = {
      head,
      readable: [],
      writable: [],
      readableBytes: 0,
      writableBytes: 0,
    };
    let index = head;
    for (let seen = 0;; seen++) {
      if (index >= size) throw new VirtqueueError(`descriptor index ${index} is outside the queue`);
      if (seen >= size) throw new VirtqueueError("the descriptor chain loops");
      const at = desc + BigInt(index * DESC_SIZE);
      const address = this.#memory.readU64(at);
      const length = this.#memory.readU32(at + 8n);
      const flags = this.#memory.readU16(at + 12n);
      const next = this.#memory.readU16(at + 14n);
      if (flags & F_INDIRECT) {
        throw new VirtqueueError("indirect descriptors were not negotiated");
      }
      if (chain.readableBytes + chain.writableBytes + length > MAX_CHAIN_BYTES) {
        throw new VirtqueueError(
          `the descriptor chain describes more than ${MAX_CHAIN_BYTES} bytes`,
        );
      }
      let buffer: Uint8Array;
      try {
        buffer = this.#memory.range(address, length);
      } catch (error) {
        if (error instanceof GuestMemoryError) {
          throw new VirtqueueError(
            `descriptor ${index} points outside guest memory (${error.message})`,
          );
        }
        throw error;
      }
      if (flags & F_WRITE) {
        chain.writable.push(buffer);
        chain.writableBytes += length;
      } else {
        if (chain.writable.length > 0) {
          throw new VirtqueueError("a device-readable descriptor follows a device-writable one");
        }
        chain.readable.push(buffer);
        chain.readableBytes += length;
      }
      if (!(flags & F_NEXT)) return chain;
      index = next;
    }
  }

  /** Returns a chain to the guest with `written` bytes filled in its writable part. */
  push(head: number, written: number): void {
    const slot = this.#usedIdx % this.layout.size;
    const entry = this.layout.used + 4n + BigInt(8 * slot);
    this.#memory.writeU32(entry, head);
    this.#memory.writeU32(entry + 4n, written);
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
    // The entry must be visible before the index: JS stores to the shared mapping happen in
    // program order on x86, which is what the guest's acquire read of used.idx pairs with.
    this.#memory.writeU16(this.layout.used + 2n, this.#usedIdx);
  }
}

/** Concatenates a chain's readable buffers. */
export function readChain(chain: DescriptorChain): Uint8Array {
  const out = new Uint8Array(chain.readableBytes);
  let at = 0;
  for (const buffer of chain.readable) {
    out.set(buffer, at);
    at += buffer.length;
  }
  return out;
}

/** Copies as much of `data` as fits into a chain's writable buffers; returns bytes written. */
export function writeChain(chain: DescriptorChain, data: Uint8Array): number {
  let at = 0;
  for (const buffer of chain.writable) {
    if (at >= data.length) break;
    const part = data.subarray(at, at + buffer.length);
    buffer.set(part);
    at += part.length;
  }
  return at;
}
