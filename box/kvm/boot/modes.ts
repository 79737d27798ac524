/**
 * CPU mode setup for a vCPU: real mode at an entry point, 32-bit protected mode with a flat GDT,
 * or 64-bit long mode with identity-mapped page tables. The long-mode layout is also the one the
 * Linux 64-bit boot protocol expects (flat __BOOT_CS/__BOOT_DS, paging on, identity map).
 */
import type { Segment, Sregs } from "../abi.ts";
import type { GuestMemory } from "../memory.ts";
import type { Vcpu } from "../vcpu.ts";

/** Fixed guest-physical addresses of the boot structures (Firecracker's layout). */
export const LAYOUT = {
  gdt: 0x500,
  idt: 0x520,
  pml4: 0x9000,
  pdpt: 0xa000,
  pd: 0xb000,
  zeroPage: 0x7000,
  bootStack: 0x8ff0,
  cmdline: 0x20000,
  kernel: 0x100000,
} as const;

/** Selectors in that GDT: Linux's __BOOT_CS and __BOOT_DS. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

const CR0_PE = 1n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;

/** A GDT entry from base, limit and flags, packed the way the CPU reads it. */
export function gdtEntry(flags: number, base: number, limit: number): bigint {
  const b = BigInt(base >>> 0);
  const l = BigInt(limit >>> 0);
  const f = BigInt(flags);
  return ((b & 0xff000000n) << 32n) | ((f & 0x0000f0ffn) << 40n) | ((l & 0x000f0000n) << 32n) |
    ((b & 0x00ffffffn) << 16n) | (l & 0x0000ffffn);
}

/** The kvm_segment matching a GDT entry, so sregs agree with the table in memory. */
export function segmentFromEntry(entry: bigint, selector: number): Segment {
  const bits = (shift: bigint, width: bigint) => Number((entry >> shift) & ((1n << width) - 1n));
  const base = ((entry >> 16n) & 0xffffffn) | (((entry >> 56n) & 0xffn) << 24n);
  const rawLimit = bits(0n, 16n) | (bits(48n, 4n) << 16);
  const g = bits(55n, 1n);
  return {
    base,
    limit: g ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit,
    selector,
    type: bits(40n, 4n),
    present: bits(47n, 1n),
    dpl: bits(45n, 2n),
    db: bits(54n, 1n),
    s: bits(44n, 1n),
    l: bits(53n, 1n),
    g,
    avl: bits(52n, 1n),
    unusable: bits(47n, 1n) ? 0 : 1,
  };
}

/** The boot GDT: null, null, code (__BOOT_CS), data (__BOOT_DS), TSS. */
export function bootGdt(longMode: boolean): bigint[] {
  return [
    0n,
    0n,
    gdtEntry(longMode ? 0xa09b : 0xc09b, 0, 0xfffff),
    gdtEntry(0xc093, 0, 0xfffff),
    gdtEntry(0x808b, 0, 0xfffff),
  ];
}

function writeGdt(memory: GuestMemory, gdt: bigint[]): void {
  gdt.forEach((entry, i) => memory.writeU64(LAYOUT.gdt + i * 8, entry));
  memory.writeU64(LAYOUT.idt, 0n);
}

function flatSegments(sregs: Sregs, gdt: bigint[]): void {
  const code = segmentFromEntry(gdt[2], BOOT_CS);
  const data = segmentFromEntry(gdt[3], BOOT_DS);
  sregs.cs = code;
  sregs.ds =
    sregs.es =
    sregs.fs =
    sregs.gs =
    sregs.ss =
      data;
  sregs.tr = segmentFromEntry(gdt[4], 0x20);
  sregs.gdt = { base: BigInt(LAYOUT.gdt), limit: gdt.length * 8 - 1 };
  sregs.idt = { base: BigInt(LAYOUT.idt), limit: 7 };
}

/**
 * Identity page tables: one PML4 entry, one PDPT entry, and 512 2 MiB pages in the PD, which
 * maps the first 1 GiB (all a bzImage needs to reach its own page tables).
 */
export function writeIdentityPageTables(memory: GuestMemory): void {
  const present = 0x3n; // present | writable
  memory.writeU64(LAYOUT.pml4, BigInt(LAYOUT.pdpt) | present);
  memory.writeU64(LAYOUT.pdpt, BigInt(LAYOUT.pd) | present);
  for (let i = 0; i < 512; i++) {
    memory.writeU64(LAYOUT.pd + i * 8, (BigInt(i) << 21n) | 0x83n); // present | writable | 2M
  }
}

function setEntry(vcpu: Vcpu, rip: number, extra: { rsi?: number; rsp?: number } = {}): void {
  const regs = vcpu.getRegs();
  for (const name of Object.keys(regs) as (keyof typeof regs)[]) regs[name] = 0n;
  regs.rip = BigInt(rip);
  regs.rflags = 2n; // bit 1 is reserved and must be set
  regs.rsp = BigInt(extra.rsp ?? 0);
  regs.rbp = regs.rsp;
  regs.rsi = BigInt(extra.rsi ?? 0);
  vcpu.setRegs(regs);
}

/** Real mode with CS = 0, so `entry` is a plain physical address below 64 KiB. */
export function enterRealMode(vcpu: Vcpu, entry: number): void {
  if (entry >= 0x10000) throw new RangeError("a real-mode entry must lie below 64 KiB");
  const sregs = vcpu.getSregs();
  sregs.cs = { ...sregs.cs, base: 0n, selector: 0 };
  for (const name of ["ds", "es", "ss", "fs", "gs"] as const) {
    sregs[name] = { ...sregs[name], base: 0n, selector: 0 };
  }
  vcpu.setSregs(sregs);
  setEntry(vcpu, entry, { rsp: 0x7000 });
}

/** 32-bit protected mode, flat 4 GiB segments, paging off. */
export function enterProtectedMode(vcpu: Vcpu, memory: GuestMemory, entry: number): void {
  const gdt = bootGdt(false);
  writeGdt(memory, gdt);
  const sregs = vcpu.getSregs();
  flatSegments(sregs, gdt);
  sregs.cr0 = (sregs.cr0 | CR0_PE | CR0_ET) & ~CR0_PG;
  vcpu.setSregs(sregs);
  setEntry(vcpu, entry, { rsp: LAYOUT.bootStack });
}

/** 64-bit long mode: PAE, LME/LMA, paging on the identity map. */
export function enterLongMode(
  vcpu: Vcpu,
  memory: GuestMemory,
  entry: number,
  extra: { rsi?: number } = {},
): void {
  const gdt = bootGdt(true);
  writeGdt(memory, gdt);
  writeIdentityPageTables(memory);
  const sregs = vcpu.getSregs();
  flatSegments(sregs, gdt);
  sregs.cr3 = BigInt(LAYOUT.pml4);
  sregs.cr4 |= CR4_PAE;
  sregs.cr0 |= CR0_PE | CR0_ET | CR0_PG;
  sregs.efer |= EFER_LME | EFER_LMA;
  vcpu.setSregs(sregs);
  setEntry(vcpu, entry, { rsp: LAYOUT.bootStack, rsi: extra.rsi });
}
