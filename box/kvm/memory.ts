/**
 * Guest RAM: one anonymous mapping shared with KVM as memory slot 0 at guest-physical 0. Every
 * access a device makes on the guest's behalf goes through {@linkcode GuestMemory.range}, which
 * refuses anything outside the mapping, so a hostile guest cannot steer the VMM into host memory.
 */
import {
  check,
  libc,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SyscallError,
} from "./ffi.ts";

/** The largest guest RAM: everything sits below the 32-bit MMIO hole at 3 GiB. */
export const MAX_MEMORY_BYTES = 3 * 1024 * 1024 * 1024;
/** Guest RAM is sized in whole pages. */
export const PAGE_SIZE = 4096;

/** A guest-physical access fell outside guest RAM. */
export class GuestMemoryError extends Error {
  constructor(readonly address: bigint | number, readonly length: number, readonly size: number) {
    super(
      `guest address 0x${address.toString(16)}+${length} is outside guest memory (0x${
        size.toString(16)
      } bytes)`,
    );
    this.name = "GuestMemoryError";
  }
}

/** Guest RAM, mapped in this process. */
export class GuestMemory {
  readonly size: number;
  #pointer: Deno.PointerObject | null;
  #bytes: Uint8Array<ArrayBuffer>;
  #view: DataView<ArrayBuffer>;

  private constructor(size: number, pointer: Deno.PointerObject) {
    this.size = size;
    this.#pointer = pointer;
    this.#bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, size));
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Maps `size` bytes (rounded up to a page) of zeroed, lazily backed RAM. */
  static allocate(size: number): GuestMemory {
    if (!Number.isSafeInteger(size) || size < PAGE_SIZE) {
      throw new RangeError(`guest memory must be at least ${PAGE_SIZE} bytes, got ${size}`);
    }
    if (size > MAX_MEMORY_BYTES) {
      throw new RangeError(`guest memory is limited to ${MAX_MEMORY_BYTES} bytes, got ${size}`);
    }
    const rounded = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const pointer = libc().mmap(
      null,
      BigInt(rounded),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
      -1,
      0n,
    );
    // MAP_FAILED is (void*)-1.
    if (pointer === null || Deno.UnsafePointer.value(pointer) === 0xffffffffffffffffn) {
      throw new SyscallError("mmap", 12);
    }
    return new GuestMemory(rounded, pointer);
  }

  /** The host address KVM maps the slot from. */
  get hostAddress(): bigint {
    return Deno.UnsafePointer.value(this.#live());
  }

  /** Whether the mapping is still there. */
  get mapped(): boolean {
    return this.#pointer !== null;
  }

  #live(): Deno.PointerObject {
    if (this.#pointer === null) throw new Error("guest memory was freed");
    return this.#pointer;
  }

  /** Checks that `[address, address + length)` lies in guest RAM and returns it as a number. */
  checkRange(address: bigint | number, length: number): number {
    this.#live();
    const start = typeof address === "bigint" ? address : BigInt(address);
    if (
      length < 0 || !Number.isSafeInteger(length) || start < 0n ||
      start + BigInt(length) > BigInt(this.size)
    ) {
      throw new GuestMemoryError(address, length, this.size);
    }
    return Number(start);
  }

  /** A live view of guest RAM at `[address, address + length)`; throws when out of bounds. */
  range(address: bigint | number, length: number): Uint8Array<ArrayBuffer> {
    const at = this.checkRange(address, length);
    return this.#bytes.subarray(at, at + length);
  }

  /** Copies `data` into guest RAM at `address`. */
  write(address: bigint | number, data: Uint8Array): void {
    this.range(address, data.length).set(data);
  }

  /** Copies `length` bytes out of guest RAM. */
  read(address: bigint | number, length: number): Uint8Array<ArrayBuffer> {
    return this.range(address, length).slice();
  }

  readU16(address: bigint | number): number {
    return this.#view.getUint16(this.checkRange(address, 2), true);
  }
  readU32(address: bigint | number): number {
    return this.#view.getUint32(this.checkRange(address, 4), true);
  }
  readU64(address: bigint | number): bigint {
    return this.#view.getBigUint64(this.checkRange(address, 8), true);
  }
  writeU8(address: bigint | number, value: number): void {
    this.#view.setUint8(this.checkRange(address, 1), value);
  }
  writeU16(address: bigint | number, value: number): void {
    this.#view.setUint16(this.checkRange(address, 2), value, true);
  }
  writeU32(address: bigint | number, value: number): void {
    this.#view.setUint32(this.checkRange(address, 4), value >>> 0, true);
  }
  writeU64(address: bigint | number, value: bigint): void {
    this.#view.setBigUint64(this.checkRange(address, 8), BigInt.asUintN(64, value), true);
  }

  /** Unmaps guest RAM. Views handed out earlier must not be used after this. */
  free(): void {
    if (this.#pointer === null) return;
    const pointer = this.#pointer;
    this.#pointer = null;
    this.#bytes = new Uint8Array(0);
    this.#view = new DataView(this.#bytes.buffer);
    check("munmap", libc().munmap(pointer, BigInt(this.size)));
  }
}
