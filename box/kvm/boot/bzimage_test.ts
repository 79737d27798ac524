import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { GuestMemory } from "../memory.ts";
import { BOOT_PARAMS, BootImageError, E820, loadBzImage, parseSetupHeader } from "./bzimage.ts";
import { bootGdt, LAYOUT, segmentFromEntry, writeIdentityPageTables } from "./modes.ts";

function hostFile(prefix: string): string | undefined {
  try {
    const name = [...Deno.readDirSync("/boot")].map((e) => e.name).filter((n) =>
      n.startsWith(prefix)
    )
      .sort().at(-1);
    return name ? `/boot/${name}` : undefined;
  } catch {
    return undefined;
  }
}

const kernelPath = hostFile("vmlinuz-");
const initrdPath = hostFile("initrd.img-");
if (!kernelPath) {
  console.log("SKIPPED: no /boot/vmlinuz-* (install linux-image-amd64) for the bzImage tests");
}
const MiB = 1024 * 1024;

Deno.test("bzImage: Debian's kernel header parses as a 64-bit relocatable kernel", {
  ignore: !kernelPath,
}, () => {
  const image = Deno.readFileSync(kernelPath!);
  const header = parseSetupHeader(image);
  assert(header.version >= 0x020c, `version 0x${header.version.toString(16)}`);
  assertEquals(header.xloadflags & 1, 1);
  assertEquals(header.relocatable, true);
  assertEquals(header.kernelOffset, (header.setupSects + 1) * 512);
  assertEquals(header.kernelAlignment % 4096, 0);
  assert(header.initSize > image.length - header.kernelOffset, "init_size covers the payload");
  assert(header.cmdlineSize >= 255);
  assert(header.headerLength > 0x202 - 0x1f1);
});

Deno.test("bzImage: zero page, command line, initramfs and e820 land where the protocol says", {
  ignore: !kernelPath,
}, () => {
  const image = Deno.readFileSync(kernelPath!);
  const initrd = initrdPath
    ? Deno.readFileSync(initrdPath)
    : crypto.getRandomValues(new Uint8Array(65536));
  const memory = GuestMemory.allocate(512 * MiB);
  try {
    const cmdline = "console=ttyS0 panic=-1 quiet";
    const plan = loadBzImage(memory, image, { cmdline, initrd });
    const header = parseSetupHeader(image);
    const zp = LAYOUT.zeroPage;
    assertEquals(plan.entry, 0x100200);
    assertEquals(plan.zeroPage, zp);
    // The setup header was copied, and the loader's fields filled in.
    assertEquals(memory.readU32(zp + 0x202), 0x53726448);
    assertEquals(memory.readU16(zp + 0x1fe), 0xaa55);
    assertEquals(memory.read(zp + 0x210, 1)[0], 0xff, "type_of_loader");
    assertEquals(memory.read(zp + 0x211, 1)[0] & 0x81, 0x81, "LOADED_HIGH | CAN_USE_HEAP");
    assertEquals(memory.readU32(zp + 0x228), LAYOUT.cmdline);
    assertEquals(
      new TextDecoder().decode(memory.read(memory.readU32(zp + 0x228), cmdline.length + 1)),
      cmdline + "\0",
    );
    // The kernel payload sits at 1 MiB, byte for byte.
    const payload = image.subarray(header.kernelOffset);
    assertEquals(memory.read(0x100000, 4096), payload.slice(0, 4096));
    assertEquals(memory.read(0x100000 + payload.length - 64, 64), payload.slice(-64));
    // The initramfs: page-aligned, above the kernel's decompression area, below initrd_addr_max.
    const ramdisk = memory.readU32(zp + 0x218);
    assertEquals(memory.readU32(zp + 0x21c), initrd.length);
    assertEquals(ramdisk % 4096, 0);
    assert(ramdisk >= 0x100000 + header.initSize);
    assert(ramdisk + initrd.length - 1 <= header.initrdAddrMax);
    assert(ramdisk + initrd.length <= memory.size);
    assertEquals(memory.read(ramdisk, 256), initrd.slice(0, 256));
    assertEquals(memory.read(ramdisk + initrd.length - 256, 256), initrd.slice(-256));
    // e820: low RAM, the EBDA/ROM hole, then RAM from 1 MiB to the end.
    const entries = memory.read(zp + BOOT_PARAMS.e820Entries, 1)[0];
    assertEquals(entries, 3);
    const table = Array.from({ length: entries }, (_, i) => {
      const at = zp + BOOT_PARAMS.e820Table + i * 20;
      return [Number(memory.readU64(at)), Number(memory.readU64(at + 8)), memory.readU32(at + 16)];
    });
    assertEquals(table, [
      [0, 0x9fc00, E820.RAM],
      [0x9fc00, 0x100000 - 0x9fc00, E820.RESERVED],
      [0x100000, 512 * MiB - 0x100000, E820.RAM],
    ]);
    assertEquals(plan.e820.length, 3);
  } finally {
    memory.free();
  }
});

Deno.test("bzImage: bad images, long command lines and small VMs are refused", {
  ignore: !kernelPath,
}, () => {
  const image = Deno.readFileSync(kernelPath!);
  const memory = GuestMemory.allocate(8 * MiB);
  try {
    assertThrows(() => parseSetupHeader(new Uint8Array(8192)), BootImageError, "boot flag");
    const old = image.slice(0, 8192);
    new DataView(old.buffer).setUint16(0x206, 0x0204, true);
    assertThrows(() => parseSetupHeader(old), BootImageError, "64-bit");
    assertThrows(
      () => loadBzImage(memory, image, { cmdline: "x" }),
      BootImageError,
      "guest memory",
    );
  } finally {
    memory.free();
  }
  const big = GuestMemory.allocate(256 * MiB);
  try {
    const header = parseSetupHeader(image);
    assertThrows(
      () => loadBzImage(big, image, { cmdline: "a".repeat(header.cmdlineSize + 1) }),
      BootImageError,
      "command line",
    );
    assertThrows(
      () => loadBzImage(big, image, { cmdline: "x", initrd: new Uint8Array(255 * MiB) }),
      BootImageError,
      "initramfs",
    );
  } finally {
    big.free();
  }
});

Deno.test("long-mode boot structures: identity page tables and the boot GDT", () => {
  const memory = GuestMemory.allocate(4 * MiB);
  try {
    writeIdentityPageTables(memory);
    assertEquals(memory.readU64(LAYOUT.pml4), BigInt(LAYOUT.pdpt) | 3n);
    assertEquals(memory.readU64(LAYOUT.pdpt), BigInt(LAYOUT.pd) | 3n);
    for (const i of [0, 1, 255, 511]) {
      assertEquals(memory.readU64(LAYOUT.pd + i * 8), (BigInt(i) << 21n) | 0x83n);
    }
  } finally {
    memory.free();
  }
  const [, , code, data] = bootGdt(true);
  assertEquals(code, 0x00af9b000000ffffn);
  assertEquals(data, 0x00cf93000000ffffn);
  const cs = segmentFromEntry(code, 0x10);
  assertEquals([cs.l, cs.db, cs.type, cs.present, cs.s, cs.g], [1, 0, 0xb, 1, 1, 1]);
  assertEquals(cs.limit, 0xffffffff);
  assertEquals(bootGdt(false)[2], 0x00cf9b000000ffffn);
});
