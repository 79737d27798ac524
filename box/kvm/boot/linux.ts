/**
 * Booting Linux on a {@linkcode Machine}: load the bzImage and initramfs, describe the machine
 * in ACPI (every vCPU in the MADT, the frame port in the DSDT, where Debian's kernel looks for
 * virtio-mmio devices), then put the boot vCPU in long mode at the 64-bit entry with RSI at the
 * zero page. The other vCPUs wait for the kernel's INIT/SIPI in the in-kernel local APIC. The
 * machine needs the in-kernel irqchip and PIT (Linux calibrates its clocks with them).
 */
import type { Machine } from "../machine.ts";
import { FRAME_PORT } from "../machine.ts";
import { type LinuxBootPlan, loadBzImage } from "./bzimage.ts";
import { enterLongMode } from "./modes.ts";
import { writeAcpiTables } from "./acpi.ts";

/**
 * The kernel arguments every box VM gets: console on COM1, reboot through the i8042. The frame
 * port is in the DSDT, not on the command line: a kernel that also honours
 * `virtio_mmio.device=` would register it twice.
 */
export const BASE_CMDLINE = "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp";

/** boot_params.acpi_rsdp_addr (boot protocol 2.14+). */
const ACPI_RSDP_ADDR = 0x070;

/** Prepares `machine` to boot `kernel`; returns where everything went. */
export function prepareLinuxBoot(
  machine: Machine,
  options: { kernel: Uint8Array; initrd?: Uint8Array; cmdline?: string },
): LinuxBootPlan & { rsdp: number } {
  if (!machine.vm.irqchip) throw new Error("booting Linux needs a VM with the in-kernel irqchip");
  const cmdline = options.cmdline ? `${BASE_CMDLINE} ${options.cmdline}` : BASE_CMDLINE;
  const memory = machine.vm.memory;
  const plan = loadBzImage(memory, options.kernel, { cmdline, initrd: options.initrd });
  const acpi = writeAcpiTables(memory, {
    vcpus: machine.vm.vcpus.length,
    virtio: [{ base: FRAME_PORT.base, irq: FRAME_PORT.irq }],
  });
  // Linux also finds the RSDP by scanning the BIOS area; saying where it is skips the scan.
  memory.writeU64(plan.zeroPage + ACPI_RSDP_ADDR, BigInt(acpi.rsdp));
  const boot = machine.vm.vcpus[0];
  boot.initFpu();
  enterLongMode(boot, memory, plan.entry, { rsi: plan.zeroPage });
  return { ...plan, rsdp: acpi.rsdp };
}
