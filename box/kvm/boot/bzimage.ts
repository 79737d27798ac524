/**
 * The Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst): parse a bzImage's setup
 * header, load the protected-mode kernel at 1 MiB, place the initramfs as high as the kernel
 * allows, and build the zero page (boot_params) with the command line and an e820 map. The vCPU
 * then enters the 64-bit entry point (load address + 0x200) in long mode with RSI pointing at
 * the zero page.
 */
import type { GuestMemory } from "../memory.ts";
import { LAYOUT } from "./modes.ts";

/** Offsets in the bzImage file and in boot_params (the setup header sits at the same place). */
const HDR = {
  setupSects: 0x1f1,
  bootFlag: 0x1fe,
  jump: 0x200,
  magic: 0x202,
  version: 0x206,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  heapEndPtr: 0x224,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatable: 0x234,
  xloadflags: 0x236,
  cmdlineSize: 0x238,
  prefAddress: 0x258,
  initSize: 0x260,
} as const;

/** boot_params fields outside the setup header. */
export const BOOT_PARAMS = {
  extRamdiskImage: 0x0c0,
  extRamdiskSize: 0x0c4,
  extCmdLinePtr: 0x0c8,
  e820Entries: 0x1e8,
  e820Table: 0x2d0,
  size: 4096,
} as const;

const HDRS_MAGIC = 0x53726448; // "HdrS"
const LOADED_HIGH = 0x01;
const CAN_USE_HEAP = 0x80;
const XLF_KERNEL_64 = 0x01;
const LOADER_UNDEFINED = 0xff;
const E820_MAX = 128;
const EBDA_START = 0x9fc00;
const HIMEM_START = 0x100000;

/** e820 memory types. */
export const E820 = { RAM: 1, RESERVED: 2 } as const;

/** One e820 entry. */
export interface E820Entry {
  address: number;
  size: number;
  type: number;
}

/** The parsed setup header of a bzImage. */
export interface SetupHeader {
  setupSects: number;
  version: number;
  loadflags: number;
  xloadflags: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  prefAddress: bigint;
  initSize: number;
  /** Bytes of setup header, from 0x1f1, to copy into boot_params. */
  headerLength: number;
  /** Where the protected-mode kernel starts in the file. */
  kernelOffset: number;
}

/** The image is not a bootable 64-bit bzImage. */
export class BootImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BootImageError";
  }
}

/** Parses and checks the setup header. */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (image.length < 0x1000) throw new BootImageError("the image is too small for a bzImage");
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint16(HDR.bootFlag, true) !== 0xaa55) {
    throw new BootImageError("no 0xAA55 boot flag: not a bzImage");
  }
  if (view.getUint32(HDR.magic, true) !== HDRS_MAGIC) {
    throw new BootImageError("no HdrS magic: boot protocol too old");
  }
  const version = view.getUint16(HDR.version, true);
  if (version < 0x020c) {
    throw new BootImageError(
      `boot protocol 2.${(version & 0xff).toString(16)} has no 64-bit entry`,
    );
  }
  const xloadflags = view.getUint16(HDR.xloadflags, true);
  if (!(xloadflags & XLF_KERNEL_64)) {
    throw new BootImageError("the kernel has no 64-bit entry point (XLF_KERNEL_64)");
  }
  const loadflags = view.getUint8(HDR.loadflags);
  if (!(loadflags & LOADED_HIGH)) throw new BootImageError("the kernel does not load high");
  const setupSects = view.getUint8(HDR.setupSects) || 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) throw new BootImageError("the setup sectors exceed the image");
  return {
    setupSects,
    version,
    loadflags,
    xloadflags,
    initrdAddrMax: view.getUint32(HDR.initrdAddrMax, true),
    kernelAlignment: view.getUint32(HDR.kernelAlignment, true),
    relocatable: view.getUint8(HDR.relocatable) !== 0,
    cmdlineSize: view.getUint32(HDR.cmdlineSize, true),
    prefAddress: view.getBigUint64(HDR.prefAddress, true),
    initSize: view.getUint32(HDR.initSize, true),
    headerLength: HDR.jump + 2 + view.getUint8(HDR.jump + 1) - HDR.setupSects,
    kernelOffset,
  };
}

/** What {@linkcode loadBzImage} put where. */
export interface LinuxBootPlan {
  header: SetupHeader;
  /** The 64-bit entry point. */
  entry: number;
  /** Guest-physical address of boot_params, for RSI. */
  zeroPage: number;
  kernel: { address: number; size: number };
  initrd?: { address: number; size: number };
  cmdline: { address: number; text: string };
  e820: E820Entry[];
}

/** The e820 map for `memoryBytes` of RAM: low memory below the EBDA, then 1 MiB to the end. */
export function e820Map(memoryBytes: number): E820Entry[] {
  return [
    { address: 0, size: EBDA_START, type: E820.RAM },
    { address: EBDA_START, size: HIMEM_START - EBDA_START, type: E820.RESERVED },
    { address: HIMEM_START, size: memoryBytes - HIMEM_START, type: E820.RAM },
  ];
}

/** Loads a bzImage (and an initramfs) into guest RAM and writes the zero page. */
export function loadBzImage(
  memory: GuestMemory,
  image: Uint8Array,
  options: { cmdline: string; initrd?: Uint8Array },
): LinuxBootPlan {
  const header = parseSetupHeader(image);
  const kernel = image.subarray(header.kernelOffset);
  // The kernel decompresses in place and needs init_size bytes from its load address.
  const needed = HIMEM_START + Math.max(kernel.length, header.initSize);
  if (needed > memory.size) {
    throw new BootImageError(
      `the kernel needs ${needed} bytes of guest memory, the VM has ${memory.size}`,
    );
  }
  memory.write(HIMEM_START, kernel);

  const cmdlineBytes = new TextEncoder().encode(options.cmdline);
  if (cmdlineBytes.length > header.cmdlineSize) {
    throw new BootImageError(`the command line is longer than the kernel's ${header.cmdlineSize}`);
  }
  memory.range(LAYOUT.cmdline, cmdlineBytes.length + 1).fill(0);
  memory.write(LAYOUT.cmdline, cmdlineBytes);

  const zeroPage = memory.range(LAYOUT.zeroPage, BOOT_PARAMS.size);
  zeroPage.fill(0);
  zeroPage.set(
    image.subarray(HDR.setupSects, HDR.setupSects + header.headerLength),
    HDR.setupSects,
  );
  const params = new DataView(zeroPage.buffer, zeroPage.byteOffset, zeroPage.byteLength);
  params.setUint8(HDR.typeOfLoader, LOADER_UNDEFINED);
  params.setUint8(HDR.loadflags, header.loadflags | CAN_USE_HEAP);
  params.setUint16(HDR.heapEndPtr, 0xfe00, true);
  params.setUint32(HDR.cmdLinePtr, LAYOUT.cmdline, true);
  params.setUint32(BOOT_PARAMS.extCmdLinePtr, 0, true);
  params.setUint32(HDR.code32Start, HIMEM_START, true);

  let initrd: LinuxBootPlan["initrd"];
  if (options.initrd && options.initrd.length > 0) {
    const kernelEnd = HIMEM_START + Math.max(kernel.length, header.initSize);
    const ceiling = Math.min(memory.size, header.initrdAddrMax + 1);
    const address = Math.floor((ceiling - options.initrd.length) / 4096) * 4096;
    if (address < kernelEnd) {
      throw new BootImageError("the initramfs does not fit between the kernel and the end of RAM");
    }
    memory.write(address, options.initrd);
    params.setUint32(HDR.ramdiskImage, address, true);
    params.setUint32(HDR.ramdiskSize, options.initrd.length, true);
    params.setUint32(BOOT_PARAMS.extRamdiskImage, 0, true);
    params.setUint32(BOOT_PARAMS.extRamdiskSize, 0, true);
    initrd = { address, size: options.initrd.length };
  }

  const e820 = e820Map(memory.size);
  if (e820.length > E820_MAX) throw new BootImageError("too many e820 entries");
  params.setUint8(BOOT_PARAMS.e820Entries, e820.length);
  e820.forEach((entry, i) => {
    const at = BOOT_PARAMS.e820Table + i * 20;
    params.setBigUint64(at, BigInt(entry.address), true);
    params.setBigUint64(at + 8, BigInt(entry.size), true);
    params.setUint32(at + 16, entry.type, true);
  });

  return {
    header,
    entry: HIMEM_START + 0x200,
    zeroPage: LAYOUT.zeroPage,
    kernel: { address: HIMEM_START, size: kernel.length },
    initrd,
    cmdline: { address: LAYOUT.cmdline, text: options.cmdline },
    e820,
  };
}
