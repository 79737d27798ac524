import { assert, assertEquals } from "@a3s/common/testing";
import { Machine } from "../machine.ts";
import { probeKvm } from "../probe.ts";
import { prepareLinuxBoot } from "./linux.ts";

function newest(prefix: string): string | undefined {
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

const probe = await probeKvm();
const kernel = newest("vmlinuz-");
const initrd = newest("initrd.img-");
const skip = !probe.linuxBoot
  ? `this host's KVM cannot boot Linux: ${probe.reason}`
  : !kernel
  ? "no /boot/vmlinuz-* (install linux-image-amd64)"
  : undefined;
if (skip) console.log(`SKIPPED: Linux boot on the kvm VMM: ${skip}`);

Deno.test({
  name: "Linux boot: Debian's kernel prints its banner on the 16550 console",
  ignore: skip !== undefined,
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
    prepareLinuxBoot(machine, {
      kernel: Deno.readFileSync(kernel!),
      initrd: initrd ? Deno.readFileSync(initrd) : undefined,
      cmdline: "earlyprintk=ttyS0 rdinit=/bin/false",
    });
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

Deno.test({
  name: "Linux boot: the ACPI tables are written, boot_params points at them, no cmdline device",
  ignore: !probe.guestPrograms || !kernel,
  sanitizeOps: false,
  sanitizeResources: false,
}, () => {
  const machine = Machine.create({ memoryBytes: 256 * 1024 * 1024, irqchip: true, vcpus: 2 });
  try {
    const plan = prepareLinuxBoot(machine, { kernel: Deno.readFileSync(kernel!) });
    const memory = machine.vm.memory;
    assertEquals(
      new DataView(memory.read(plan.zeroPage + 0x70, 8).buffer).getBigUint64(0, true),
      BigInt(plan.rsdp),
    );
    assertEquals(new TextDecoder().decode(memory.read(plan.rsdp, 8)), "RSD PTR ");
    const cmdline = new TextDecoder().decode(memory.read(0x20000, 200)).split("\0")[0];
    assert(!cmdline.includes("virtio_mmio.device="), cmdline);
    assertEquals(machine.vm.vcpus[0].getRegs().rip, BigInt(plan.entry));
  } finally {
    machine.close();
  }
});
