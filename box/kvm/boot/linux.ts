/**
 * Booting Linux on a {@linkcode Machine}: load the bzImage and initramfs, then put the boot vCPU
 * in long mode at the 64-bit entry with RSI at the zero page. The machine needs the in-kernel
 * irqchip and PIT (Linux calibrates its clocks with them).
 */
import type { Machine } from "../machine.ts";
import { FRAME_PORT_CMDLINE } from "../machine.ts";
import { type LinuxBootPlan, loadBzImage } from "./bzimage.ts";
import { enterLongMode } from "./modes.ts";

/** The kernel arguments every box VM gets: console on COM1, reboot through the i8042, the frame port. */
export const BASE_CMDLINE =
  `console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp ${FRAME_PORT_CMDLINE}`;

/** Prepares `machine` to boot `kernel`; returns where everything went. */
export function prepareLinuxBoot(
  machine: Machine,
  options: { kernel: Uint8Array; initrd?: Uint8Array; cmdline?: string },
): LinuxBootPlan {
  if (!machine.vm.irqchip) throw new Error("booting Linux needs a VM with the in-kernel irqchip");
  const cmdline = options.cmdline ? `${BASE_CMDLINE} ${options.cmdline}` : BASE_CMDLINE;
  const plan = loadBzImage(machine.vm.memory, options.kernel, { cmdline, initrd: options.initrd });
  const boot = machine.vm.vcpus[0];
  boot.initFpu();
  enterLongMode(boot, machine.vm.memory, plan.entry, { rsi: plan.zeroPage });
  return plan;
}
