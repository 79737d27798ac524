/**
 * The KVM userspace ABI for x86-64: ioctl numbers and the byte layouts of the structures they
 * take (from linux/kvm.h and asm/kvm.h). Layouts are written out as offsets so every field read
 * or written is visible in one place.
 */

const KVMIO = 0xae;

function io(nr: number): bigint {
  return BigInt((KVMIO << 8) | nr);
}
function ioc(dir: number, nr: number, size: number): bigint {
  return BigInt(((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0);
}
const WRITE = 1;
const READ = 2;
const iow = (nr: number, size: number) => ioc(WRITE, nr, size);
const ior = (nr: number, size: number) => ioc(READ, nr, size);
const iowr = (nr: number, size: number) => ioc(READ | WRITE, nr, size);

/** Sizes of the structures the ioctls carry. */
export const SIZEOF = {
  regs: 144,
  sregs: 312,
  segment: 24,
  fpu: 416,
  memoryRegion: 32,
  irqLevel: 8,
  pitConfig: 64,
  cpuidHeader: 8,
  cpuidEntry: 40,
  msrsHeader: 8,
  msrEntry: 16,
} as const;

/** ioctl request numbers. */
export const KVM = {
  GET_API_VERSION: io(0x00),
  CREATE_VM: io(0x01),
  CHECK_EXTENSION: io(0x03),
  GET_VCPU_MMAP_SIZE: io(0x04),
  GET_SUPPORTED_CPUID: iowr(0x05, SIZEOF.cpuidHeader),
  CREATE_VCPU: io(0x41),
  SET_USER_MEMORY_REGION: iow(0x46, SIZEOF.memoryRegion),
  SET_TSS_ADDR: io(0x47),
  SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  CREATE_IRQCHIP: io(0x60),
  IRQ_LINE: iow(0x61, SIZEOF.irqLevel),
  CREATE_PIT2: iow(0x77, SIZEOF.pitConfig),
  RUN: io(0x80),
  GET_REGS: ior(0x81, SIZEOF.regs),
  SET_REGS: iow(0x82, SIZEOF.regs),
  GET_SREGS: ior(0x83, SIZEOF.sregs),
  SET_SREGS: iow(0x84, SIZEOF.sregs),
  SET_MSRS: iow(0x89, SIZEOF.msrsHeader),
  SET_SIGNAL_MASK: iow(0x8b, 4),
  GET_FPU: ior(0x8c, SIZEOF.fpu),
  SET_FPU: iow(0x8d, SIZEOF.fpu),
  SET_CPUID2: iow(0x90, SIZEOF.cpuidHeader),
} as const;

/** KVM_CHECK_EXTENSION capability numbers used here. */
export const CAP = {
  IRQCHIP: 0,
  HLT: 1,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  EXT_CPUID: 7,
  NR_VCPUS: 9,
  NR_MEMSLOTS: 10,
  PIT2: 33,
  IMMEDIATE_EXIT: 136,
} as const;

/** kvm_run.exit_reason values. */
export const EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
} as const;

/** Names for exit reasons, for error messages. */
export const EXIT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EXIT).map(([name, value]) => [value, name]),
);

/** Offsets into the mmap'd kvm_run structure. */
export const RUN = {
  immediateExit: 1,
  exitReason: 8,
  readyForInterruptInjection: 12,
  ifFlag: 13,
  // union at 32
  ioDirection: 32,
  ioSize: 33,
  ioPort: 34,
  ioCount: 36,
  ioDataOffset: 40,
  mmioPhysAddr: 32,
  mmioData: 40,
  mmioLen: 48,
  mmioIsWrite: 52,
  failEntryReason: 32,
  internalSuberror: 32,
  internalNdata: 36,
  internalData: 40,
  systemEventType: 32,
} as const;

export const IO_DIRECTION_IN = 0;
export const IO_DIRECTION_OUT = 1;

/** kvm_run.system_event.type values. */
export const SYSTEM_EVENT = { SHUTDOWN: 1, RESET: 2, CRASH: 3 } as const;

/** KVM_INTERNAL_ERROR sub-errors. */
export const INTERNAL_ERROR_NAMES: Record<number, string> = {
  1: "emulation failure",
  2: "simultaneous exception",
  3: "delivery event",
  4: "unexpected exit",
};

/** General-purpose registers, in kvm_regs order. */
export const REG_NAMES = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const;

/** One general-purpose register name. */
export type RegName = typeof REG_NAMES[number];
/** kvm_regs as numbers (bigint: 64-bit values do not fit a double). */
export type Regs = Record<RegName, bigint>;

/** kvm_segment. */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** kvm_dtable (GDT/IDT register). */
export interface DescriptorTable {
  base: bigint;
  limit: number;
}

/** kvm_sregs, without the interrupt bitmap (kept as raw bytes). */
export interface Sregs {
  cs: Segment;
  ds: Segment;
  es: Segment;
  fs: Segment;
  gs: Segment;
  ss: Segment;
  tr: Segment;
  ldt: Segment;
  gdt: DescriptorTable;
  idt: DescriptorTable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: Uint8Array;
}

const SEGMENT_NAMES = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;

/** Decodes kvm_regs. */
export function decodeRegs(bytes: Uint8Array): Regs {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const regs = {} as Regs;
  REG_NAMES.forEach((name, i) => regs[name] = view.getBigUint64(i * 8, true));
  return regs;
}

/** Encodes kvm_regs. */
export function encodeRegs(regs: Regs): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SIZEOF.regs);
  const view = new DataView(bytes.buffer);
  REG_NAMES.forEach((name, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, regs[name]), true));
  return bytes;
}

function decodeSegment(view: DataView, at: number): Segment {
  return {
    base: view.getBigUint64(at, true),
    limit: view.getUint32(at + 8, true),
    selector: view.getUint16(at + 12, true),
    type: view.getUint8(at + 14),
    present: view.getUint8(at + 15),
    dpl: view.getUint8(at + 16),
    db: view.getUint8(at + 17),
    s: view.getUint8(at + 18),
    l: view.getUint8(at + 19),
    g: view.getUint8(at + 20),
    avl: view.getUint8(at + 21),
    unusable: view.getUint8(at + 22),
  };
}

function encodeSegment(view: DataView, at: number, s: Segment): void {
  view.setBigUint64(at, s.base, true);
  view.setUint32(at + 8, s.limit >>> 0, true);
  view.setUint16(at + 12, s.selector, true);
  view.setUint8(at + 14, s.type);
  view.setUint8(at + 15, s.present);
  view.setUint8(at + 16, s.dpl);
  view.setUint8(at + 17, s.db);
  view.setUint8(at + 18, s.s);
  view.setUint8(at + 19, s.l);
  view.setUint8(at + 20, s.g);
  view.setUint8(at + 21, s.avl);
  view.setUint8(at + 22, s.unusable);
  view.setUint8(at + 23, 0);
}

const DTABLE_AT = 8 * SIZEOF.segment;
const CR_AT = DTABLE_AT + 32;
const BITMAP_AT = CR_AT + 56;

/** Decodes kvm_sregs. */
export function decodeSregs(bytes: Uint8Array): Sregs {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = Object.fromEntries(
    SEGMENT_NAMES.map((name, i) => [name, decodeSegment(view, i * SIZEOF.segment)]),
  ) as Record<typeof SEGMENT_NAMES[number], Segment>;
  const cr = (i: number) => view.getBigUint64(CR_AT + i * 8, true);
  return {
    ...segments,
    gdt: { base: view.getBigUint64(DTABLE_AT, true), limit: view.getUint16(DTABLE_AT + 8, true) },
    idt: {
      base: view.getBigUint64(DTABLE_AT + 16, true),
      limit: view.getUint16(DTABLE_AT + 24, true),
    },
    cr0: cr(0),
    cr2: cr(1),
    cr3: cr(2),
    cr4: cr(3),
    cr8: cr(4),
    efer: cr(5),
    apicBase: cr(6),
    interruptBitmap: bytes.slice(BITMAP_AT, SIZEOF.sregs),
  };
}

/** Encodes kvm_sregs. */
export function encodeSregs(sregs: Sregs): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SIZEOF.sregs);
  const view = new DataView(bytes.buffer);
  SEGMENT_NAMES.forEach((name, i) => encodeSegment(view, i * SIZEOF.segment, sregs[name]));
  view.setBigUint64(DTABLE_AT, sregs.gdt.base, true);
  view.setUint16(DTABLE_AT + 8, sregs.gdt.limit, true);
  view.setBigUint64(DTABLE_AT + 16, sregs.idt.base, true);
  view.setUint16(DTABLE_AT + 24, sregs.idt.limit, true);
  [sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.cr8, sregs.efer, sregs.apicBase].forEach(
    (value, i) => view.setBigUint64(CR_AT + i * 8, value, true),
  );
  bytes.set(sregs.interruptBitmap.subarray(0, SIZEOF.sregs - BITMAP_AT), BITMAP_AT);
  return bytes;
}
