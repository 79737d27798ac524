/**
 * The VMM's two buses: port I/O (16-bit ports) and MMIO (guest-physical addresses). A vCPU exit
 * names an address; the bus finds the device whose range holds it and hands it the offset.
 */

/** A device on the port I/O bus. */
export interface PioDevice {
  /** Value read from `offset` (0-based in the device's range), `size` bytes wide. */
  ioRead(offset: number, size: number): number;
  ioWrite(offset: number, size: number, value: number): void;
}

/** A device on the MMIO bus. */
export interface MmioDevice {
  /** Fills `data` (1, 2, 4 or 8 bytes) with what the guest reads at `offset`. */
  mmioRead(offset: number, data: Uint8Array): void;
  mmioWrite(offset: number, data: Uint8Array): void;
}

interface Range<D> {
  base: number;
  length: number;
  device: D;
}

function find<D>(ranges: Range<D>[], address: number): Range<D> | undefined {
  for (const range of ranges) {
    if (address >= range.base && address < range.base + range.length) return range;
  }
  return undefined;
}

function addRange<D>(ranges: Range<D>[], base: number, length: number, device: D): void {
  if (length <= 0) throw new RangeError("a device range needs a positive length");
  for (const other of ranges) {
    if (base < other.base + other.length && other.base < base + length) {
      throw new RangeError(`device range 0x${base.toString(16)}+${length} overlaps another`);
    }
  }
  ranges.push({ base, length, device });
}

/** Port I/O and MMIO dispatch. Unclaimed reads return all ones, as on real hardware. */
export class DeviceBus {
  readonly #pio: Range<PioDevice>[] = [];
  readonly #mmio: Range<MmioDevice>[] = [];
  /** Accesses that hit no device, counted for diagnostics. */
  unclaimed = 0;

  addPio(base: number, length: number, device: PioDevice): void {
    addRange(this.#pio, base, length, device);
  }

  addMmio(base: number, length: number, device: MmioDevice): void {
    addRange(this.#mmio, base, length, device);
  }

  pioRead(port: number, size: number): number {
    const range = find(this.#pio, port);
    if (!range) {
      this.unclaimed++;
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    return range.device.ioRead(port - range.base, size);
  }

  pioWrite(port: number, size: number, value: number): void {
    const range = find(this.#pio, port);
    if (!range) {
      this.unclaimed++;
      return;
    }
    range.device.ioWrite(port - range.base, size, value);
  }

  mmioRead(address: number, data: Uint8Array): void {
    const range = find(this.#mmio, address);
    if (!range) {
      this.unclaimed++;
      data.fill(0xff);
      return;
    }
    range.device.mmioRead(address - range.base, data);
  }

  mmioWrite(address: number, data: Uint8Array): void {
    const range = find(this.#mmio, address);
    if (!range) {
      this.unclaimed++;
      return;
    }
    range.device.mmioWrite(address - range.base, data);
  }
}
