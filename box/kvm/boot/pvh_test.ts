/**
 * PVH boot of a vmlinux, checked on the real thing: the vmlinux inside Debian's bzImage (its XZ
 * payload, decompressed with xz), whose Xen notes readelf lists independently. Loading it puts
 * every segment at its physical address, the start info, module and memory map where the start
 * info says, and the PVH entry on `pvh_start_xen`'s first instruction (cld). Booting it runs
 * only where the probe says this host's KVM can boot Linux.
 */
import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { GuestMemory } from "../memory.ts";
import { Machine } from "../machine.ts";
import { probeKvm } from "../probe.ts";
import { BootImageError, parseSetupHeader } from "./bzimage.ts";
import { parseElf } from "./elf.ts";
import { enterPvh, HVM_START_MAGIC, loadPvhKernel, PVH_LAYOUT, pvhEntry } from "./pvh.ts";

const kernelPath = [...Deno.readDirSync("/boot")].map((e) => e.name)
  .filter((n) => n.startsWith("vmlinuz-")).sort().map((n) => `/boot/${n}`).at(-1);

/** The vmlinux inside a bzImage: the setup header locates the compressed payload. */
async function extractVmlinux(bzImage: Uint8Array): Promise<Uint8Array | undefined> {
  const header = parseSetupHeader(bzImage);
  const view = new DataView(bzImage.buffer, bzImage.byteOffset, bzImage.byteLength);
  const start = (header.setupSects + 1) * 512 + view.getUint32(0x248, true);
  const length = view.getUint32(0x24c, true);
  const payload = bzImage.subarray(start, start + length);
  if (!(payload[0] === 0xfd && payload[1] === 0x37)) return undefined; // not XZ
  const xz = new Deno.Command("xz", {
    args: ["-dc"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  })
    .spawn();
  const writer = xz.stdin.getWriter();
  // The payload carries a size trailer after the XZ stream, so xz exits non-zero at the end.
  writer.write(payload).then(() => writer.close()).catch(() => {});
  const { stdout } = await xz.output();
  return stdout.length > 0 ? stdout : undefined;
}

const vmlinux = kernelPath
  ? await extractVmlinux(Deno.readFileSync(kernelPath)).catch(() => undefined)
  : undefined;
const skip = !kernelPath
  ? "no /boot/vmlinuz-* (install linux-image-amd64)"
  : !vmlinux
  ? "cannot extract vmlinux (needs an XZ-compressed kernel and xz-utils)"
  : undefined;
if (skip) console.log(`SKIPPED: PVH on Debian's vmlinux: ${skip}`);

async function readelfPhys32Entry(path: string): Promise<number | undefined> {
  const out = await Promise.resolve().then(() =>
    new Deno.Command("readelf", { args: ["-n", path], stdout: "piped", stderr: "null" }).output()
  ).catch(() => undefined);
  if (!out?.success) return undefined;
  const text = new TextDecoder().decode(out.stdout);
  const match = text.match(/note type: \(0x00000012\)\s+description data: ([0-9a-f ]+)/);
  if (!match) return undefined;
  const bytes = match[1].trim().split(" ").map((h) => parseInt(h, 16));
  return bytes.reduceRight((value, byte) => value * 256 + byte, 0);
}

Deno.test(
  { name: "PVH: Debian's vmlinux has the entry note readelf sees", ignore: !!skip },
  async () => {
    const elf = parseElf(vmlinux!);
    assert(elf.segments.length >= 2);
    const entry = pvhEntry(vmlinux!);
    const path = await Deno.makeTempFile({ suffix: ".vmlinux" });
    try {
      await Deno.writeFile(path, vmlinux!);
      const independent = await readelfPhys32Entry(path);
      if (independent === undefined) {
        console.log(
          "readelf missing: the note is checked by layout only",
        );
      } else assertEquals(entry, independent);
    } finally {
      await Deno.remove(path);
    }
    const text = elf.segments[0];
    assert(entry >= text.paddr && entry < text.paddr + text.fileSize);
    // pvh_start_xen begins with `cld`.
    assertEquals(vmlinux![text.offset + (entry - text.paddr)], 0xfc);
  },
);

Deno.test({
  name: "PVH: segments, start info, module and memory map land where they should",
  ignore: !!skip,
}, () => {
  const memory = GuestMemory.allocate(256 * 1024 * 1024);
  try {
    const initrd = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const plan = loadPvhKernel(memory, vmlinux!, {
      cmdline: "console=ttyS0",
      initrd,
      rsdp: 0xe0000,
    });
    for (const s of parseElf(vmlinux!).segments) {
      assertEquals(memory.read(s.paddr, 4096), vmlinux!.subarray(s.offset, s.offset + 4096));
      assertEquals(
        memory.read(s.paddr + s.memSize - 16, 16).every((b, i) =>
          s.memSize - 16 + i >= s.fileSize ? b === 0 : b === vmlinux![s.offset + s.memSize - 16 + i]
        ),
        true,
      );
    }
    assertEquals(memory.read(plan.entry, 1)[0], 0xfc);
    const info = new DataView(memory.read(PVH_LAYOUT.startInfo, 56).buffer);
    assertEquals(info.getUint32(0, true), HVM_START_MAGIC);
    assertEquals(info.getUint32(4, true), 1);
    assertEquals(info.getUint32(12, true), 1);
    assertEquals(Number(info.getBigUint64(32, true)), 0xe0000);
    const cmdline = Number(info.getBigUint64(24, true));
    assertEquals(new TextDecoder().decode(memory.read(cmdline, 14)), "console=ttyS0\0");
    const module = new DataView(memory.read(Number(info.getBigUint64(16, true)), 32).buffer);
    const initrdAt = Number(module.getBigUint64(0, true));
    assertEquals(Number(module.getBigUint64(8, true)), initrd.length);
    assertEquals(memory.read(initrdAt, initrd.length), initrd);
    assert(initrdAt >= plan.kernelEnd && initrdAt + initrd.length <= memory.size);
    const entries = info.getUint32(48, true);
    const memmap = new DataView(
      memory.read(Number(info.getBigUint64(40, true)), entries * 24).buffer,
    );
    const last = (entries - 1) * 24;
    assertEquals(
      Number(memmap.getBigUint64(last, true) + memmap.getBigUint64(last + 8, true)),
      memory.size,
    );
    assertEquals(memmap.getUint32(last + 16, true), 1);
  } finally {
    memory.free();
  }
});

Deno.test("PVH: malformed images are refused with a reason", () => {
  assertThrows(() => parseElf(new Uint8Array(100)), BootImageError, "not an ELF");
  const header = new Uint8Array(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  const view = new DataView(header.buffer);
  view.setUint16(18, 62, true);
  view.setBigUint64(32, 64n, true);
  view.setUint16(54, 56, true);
  view.setUint16(56, 4, true);
  assertThrows(() => parseElf(header), BootImageError, "program headers run past");
  // One PT_LOAD with no PVH note: refused as a kernel built without CONFIG_PVH.
  const image = new Uint8Array(64 + 56 + 16);
  image.set(header);
  const v = new DataView(image.buffer);
  v.setUint16(56, 1, true);
  v.setUint32(64, 1, true);
  v.setBigUint64(64 + 8, 120n, true);
  v.setBigUint64(64 + 24, 0x100000n, true);
  v.setBigUint64(64 + 32, 16n, true);
  v.setBigUint64(64 + 40, 16n, true);
  assertThrows(() => pvhEntry(image), BootImageError, "CONFIG_PVH");
  v.setBigUint64(64 + 32, 1n << 40n, true);
  assertThrows(() => parseElf(image), BootImageError, "runs past the image");
});

const probe = await probeKvm();
Deno.test({
  name: "PVH: Debian's vmlinux boots to its banner on the kvm VMM",
  ignore: !!skip || !probe.linuxBoot,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  let text = "";
  const machine = Machine.create({
    memoryBytes: 512 * 1024 * 1024,
    irqchip: true,
    onConsole: (bytes) => text += new TextDecoder().decode(bytes),
  });
  try {
    const plan = loadPvhKernel(machine.vm.memory, vmlinux!, {
      cmdline: "console=ttyS0 earlyprintk=ttyS0 reboot=k panic=-1",
    });
    enterPvh(machine.vm.vcpus[0], machine.vm.memory, plan);
    const running = machine.run({ timeoutMs: 60_000 }).catch((error) => error);
    const deadline = Date.now() + 60_000;
    while (!text.includes("Linux version") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    machine.vm.stop();
    await running;
    assert(text.includes("Linux version"), `console: ${text.slice(0, 500)}`);
  } finally {
    machine.close();
  }
});
if (!probe.linuxBoot) console.log(`SKIPPED: PVH boot on the kvm VMM: ${probe.reason}`);

Deno.test({
  name: "PVH: the boot vCPU enters 32-bit protected mode, paging off, EBX at the start info",
  ignore: !probe.guestPrograms || !!skip,
  sanitizeOps: false,
  sanitizeResources: false,
}, () => {
  const machine = Machine.create({ memoryBytes: 256 * 1024 * 1024 });
  try {
    const plan = loadPvhKernel(machine.vm.memory, vmlinux!, { cmdline: "console=ttyS0" });
    const vcpu = machine.vm.vcpus[0];
    enterPvh(vcpu, machine.vm.memory, plan);
    const regs = vcpu.getRegs();
    assertEquals([regs.rip, regs.rbx], [BigInt(plan.entry), BigInt(PVH_LAYOUT.startInfo)]);
    const sregs = vcpu.getSregs();
    assertEquals(sregs.cr0 & 1n, 1n);
    assertEquals(sregs.cr0 & (1n << 31n), 0n);
    assertEquals([sregs.cs.base, sregs.cs.db], [0n, 1]);
  } finally {
    machine.close();
  }
});
