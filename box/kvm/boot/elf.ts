/**
 * Just enough ELF64 to boot a vmlinux: the program headers (PT_LOAD segments, placed at their
 * physical addresses, and PT_NOTE segments) and the notes inside them. Every offset and size is
 * checked against the file, so a truncated or hostile image fails with a clear error.
 */
import { BootImageError } from "./bzimage.ts";

/** A loadable segment. */
export interface ElfSegment {
  /** Where the segment's bytes start in the file. */
  offset: number;
  /** The physical load address. */
  paddr: number;
  /** Bytes present in the file. */
  fileSize: number;
  /** Bytes in memory; past `fileSize` they are zero. */
  memSize: number;
}

/** One note: its owner's name, type and descriptor bytes. */
export interface ElfNote {
  name: string;
  type: number;
  desc: Uint8Array;
}

/** What the loader needs from an ELF image. */
export interface ElfImage {
  /** The ELF entry point (a virtual address in a vmlinux). */
  entry: bigint;
  segments: ElfSegment[];
  notes: ElfNote[];
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const EM_X86_64 = 62;

function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BootImageError(`${what} is too large`);
  return Number(value);
}

function parseNotes(bytes: Uint8Array, out: ElfNote[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const align4 = (n: number) => (n + 3) & ~3;
  for (let at = 0; at + 12 <= bytes.length;) {
    const nameSize = view.getUint32(at, true);
    const descSize = view.getUint32(at + 4, true);
    const type = view.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(nameSize);
    const end = descAt + align4(descSize);
    if (descAt + descSize > bytes.length) {
      throw new BootImageError("an ELF note runs past its segment");
    }
    // The name is NUL-terminated inside its size.
    const name = new TextDecoder().decode(bytes.subarray(nameAt, nameAt + nameSize)).replace(
      /\0+$/,
      "",
    );
    out.push({ name, type, desc: bytes.slice(descAt, descAt + descSize) });
    at = end;
  }
}

/** Parses an x86-64 ELF executable's program headers and notes. */
export function parseElf(image: Uint8Array): ElfImage {
  if (
    image.length < 64 || image[0] !== 0x7f || image[1] !== 0x45 || image[2] !== 0x4c ||
    image[3] !== 0x46
  ) {
    throw new BootImageError("not an ELF image");
  }
  if (image[4] !== 2 || image[5] !== 1) throw new BootImageError("not a little-endian ELF64 image");
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint16(18, true) !== EM_X86_64) throw new BootImageError("not an x86-64 ELF image");
  const entry = view.getBigUint64(24, true);
  const phoff = safe(view.getBigUint64(32, true), "the program header offset");
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phentsize < 56 || phoff + phnum * phentsize > image.length) {
    throw new BootImageError("the program headers run past the image");
  }
  const segments: ElfSegment[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = view.getUint32(at, true);
    const offset = safe(view.getBigUint64(at + 8, true), "a segment offset");
    const paddr = safe(view.getBigUint64(at + 24, true), "a segment address");
    const fileSize = safe(view.getBigUint64(at + 32, true), "a segment size");
    const memSize = safe(view.getBigUint64(at + 40, true), "a segment size");
    if (type !== PT_LOAD && type !== PT_NOTE) continue;
    if (offset + fileSize > image.length) {
      throw new BootImageError(`segment ${i} runs past the image`);
    }
    if (type === PT_NOTE) {
      parseNotes(image.subarray(offset, offset + fileSize), notes);
      continue;
    }
    if (memSize < fileSize) {
      throw new BootImageError(`segment ${i} is smaller in memory than on file`);
    }
    segments.push({ offset, paddr, fileSize, memSize });
  }
  if (segments.length === 0) throw new BootImageError("the ELF image has no loadable segment");
  return { entry, segments, notes };
}
