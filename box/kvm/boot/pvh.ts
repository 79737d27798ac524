/**
 * The PVH boot protocol for a vmlinux ELF (Linux's `CONFIG_PVH`, the path Firecracker and
 * cloud-hypervisor use): no real-mode setup code and no decompressor. The kernel announces its
 * 32-bit entry in the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY; the VMM loads the PT_LOAD segments
 * at their physical addresses, writes an `hvm_start_info` (with the command line, the initramfs
 * as module 0, the memory map and the ACPI RSDP) and enters in 32-bit protected mode, paging
 * off, flat segments, with EBX holding the start info's address.
 */
import type { GuestMemory } from "../memory.ts";
import type { Vcpu } from "../vcpu.ts";
import { BootImageError, E820, type E820Entry, e820Map } from "./bzimage.ts";
import { parseElf } from "./elf.ts";
import { enterProtectedMode, LAYOUT } from "./modes.ts";

/** XEN_ELFNOTE_PHYS32_ENTRY: the physical address of the 32-bit PVH entry. */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** hvm_start_info.magic. */
export const HVM_START_MAGIC = 0x336ec578;
/** Where the start info, its memory map and module list go (low memory, below the stack page). */
export const PVH_LAYOUT = { startInfo: 0x6000, modlist: 0x6040, memmap: 0x6080 } as const;
const START_INFO_VERSION = 1;
const MEMMAP_MAX = (0x7000 - PVH_LAYOUT.memmap) / 24;

/** Where a PVH boot put everything. */
export interface PvhBootPlan {
  /** The 32-bit entry (physical). */
  entry: number;
  /** The hvm_start_info's address, EBX at entry. */
  startInfo: number;
  /** The command line's address. */
  cmdline: number;
  /** The initramfs, when one was given. */
  initrd?: { address: number; size: number };
  /** The highest byte the kernel's segments occupy, plus one. */
  kernelEnd: number;
  /** The memory map the kernel gets. */
  memmap: E820Entry[];
}

/** Options for {@linkcode loadPvhKernel}. */
export interface PvhOptions {
  /** The kernel command line. */
  cmdline: string;
  /** An initramfs, placed as high as RAM below 4 GiB allows. */
  initrd?: Uint8Array;
  /** The ACPI RSDP's address, when the VMM built ACPI tables. */
  rsdp?: number;
}

/** The PVH entry from a vmlinux's notes; throws when the kernel was built without PVH. */
export function pvhEntry(image: Uint8Array): number {
  const note = parseElf(image).notes.find((n) =>
    n.name === "Xen" && n.type === XEN_ELFNOTE_PHYS32_ENTRY
  );
  if (!note) {
    throw new BootImageError("the kernel has no PVH entry note (built without CONFIG_PVH)");
  }
  const view = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength);
  if (note.desc.length === 4) return view.getUint32(0, true);
  if (note.desc.length === 8) return Number(view.getBigUint64(0, true));
  throw new BootImageError(`the PVH entry note is ${note.desc.length} bytes, not 4 or 8`);
}

/** Loads a vmlinux for PVH boot into `memory`; returns where everything went. */
export function loadPvhKernel(
  memory: GuestMemory,
  image: Uint8Array,
  options: PvhOptions,
): PvhBootPlan {
  const elf = parseElf(image);
  const entry = pvhEntry(image);
  let kernelEnd = 0;
  for (const segment of elf.segments) {
    if (segment.paddr < LAYOUT.kernel) {
      throw new BootImageError(`a segment loads at 0x${segment.paddr.toString(16)}, below 1 MiB`);
    }
    memory.checkRange(segment.paddr, segment.memSize);
    memory.write(segment.paddr, image.subarray(segment.offset, segment.offset + segment.fileSize));
    memory.range(segment.paddr + segment.fileSize, segment.memSize - segment.fileSize).fill(0);
    kernelEnd = Math.max(kernelEnd, segment.paddr + segment.memSize);
  }
  if (!elf.segments.some((s) => entry >= s.paddr && entry < s.paddr + s.fileSize)) {
    throw new BootImageError(`the PVH entry 0x${entry.toString(16)} is in no loaded segment`);
  }

  const cmdline = new TextEncoder().encode(`${options.cmdline}\0`);
  if (cmdline.length > LAYOUT.kernel - LAYOUT.cmdline) {
    throw new BootImageError("the command line is too long");
  }
  memory.write(LAYOUT.cmdline, cmdline);

  let initrd: PvhBootPlan["initrd"];
  if (options.initrd && options.initrd.length > 0) {
    const ceiling = Math.min(memory.size, 0x1_0000_0000);
    const address = Math.floor((ceiling - options.initrd.length) / 4096) * 4096;
    if (address < kernelEnd) {
      throw new BootImageError("the initramfs does not fit above the kernel");
    }
    memory.write(address, options.initrd);
    initrd = { address, size: options.initrd.length };
    const module = new DataView(new ArrayBuffer(32));
    module.setBigUint64(0, BigInt(address), true); // paddr
    module.setBigUint64(8, BigInt(options.initrd.length), true); // size
    memory.write(PVH_LAYOUT.modlist, new Uint8Array(module.buffer));
  }

  const memmap = e820Map(memory.size);
  if (memmap.length > MEMMAP_MAX) throw new BootImageError("too many memory map entries");
  memmap.forEach((e, i) => {
    const at = PVH_LAYOUT.memmap + i * 24;
    memory.writeU64(at, BigInt(e.address));
    memory.writeU64(at + 8, BigInt(e.size));
    memory.writeU32(at + 16, e.type === E820.RAM ? 1 : 2);
    memory.writeU32(at + 20, 0);
  });

  const info = new DataView(new ArrayBuffer(56));
  info.setUint32(0, HVM_START_MAGIC, true);
  info.setUint32(4, START_INFO_VERSION, true);
  info.setUint32(8, 0, true); // flags
  info.setUint32(12, initrd ? 1 : 0, true); // nr_modules
  info.setBigUint64(16, initrd ? BigInt(PVH_LAYOUT.modlist) : 0n, true);
  info.setBigUint64(24, BigInt(LAYOUT.cmdline), true);
  info.setBigUint64(32, BigInt(options.rsdp ?? 0), true);
  info.setBigUint64(40, BigInt(PVH_LAYOUT.memmap), true);
  info.setUint32(48, memmap.length, true);
  memory.write(PVH_LAYOUT.startInfo, new Uint8Array(info.buffer));
  return {
    entry,
    startInfo: PVH_LAYOUT.startInfo,
    cmdline: LAYOUT.cmdline,
    initrd,
    kernelEnd,
    memmap,
  };
}

/** Puts the boot vCPU at the PVH entry: 32-bit flat protected mode, paging off, EBX = start info. */
export function enterPvh(vcpu: Vcpu, memory: GuestMemory, plan: PvhBootPlan): void {
  enterProtectedMode(vcpu, memory, plan.entry);
  const regs = vcpu.getRegs();
  regs.rbx = BigInt(plan.startInfo);
  vcpu.setRegs(regs);
}
