/**
 * The startup probe: can this host's KVM run our guest programs, and can it boot a standard Linux
 * kernel? The first is answered by running a tiny real-mode guest; the second by the hypervisor
 * module behind /dev/kvm (a paravirtual kvm_pvm cannot run an unmodified kernel) and by creating
 * the in-kernel irqchip and PIT Linux needs. Never throws.
 */
import { VmError } from "./errors.ts";
import { Machine } from "./machine.ts";
import { enterRealMode } from "./boot/modes.ts";
import { existsSync as exists } from "../_exists.ts";

/** The probe's answer. */
export interface KvmProbe {
  /** /dev/kvm opens and a guest program ran to its HLT with the expected output. */
  guestPrograms: boolean;
  /** This host's KVM can boot an unmodified Linux kernel. */
  linuxBoot: boolean;
  /** The hypervisor module behind /dev/kvm. */
  module: "kvm_intel" | "kvm_amd" | "kvm_pvm" | "unknown" | "none";
  /** One line: why not, or what works. */
  reason: string;
  /** Milliseconds from VM creation to the probe guest's HLT. */
  guestMs?: number;
}

/**
 * The probe guest, real mode at 0x1000:
 * `mov dx, 0x3f8` (ba f8 03), `mov al, '!'` (b0 21), `out dx, al` (ee), `hlt` (f4).
 */
const PROBE_GUEST = Uint8Array.of(0xba, 0xf8, 0x03, 0xb0, 0x21, 0xee, 0xf4);

/** The kernel module behind /dev/kvm, read from /sys/module. */
export function hypervisorModule(): KvmProbe["module"] {
  for (const name of ["kvm_intel", "kvm_amd", "kvm_pvm"] as const) {
    if (exists(`/sys/module/${name}`)) return name;
  }
  return "unknown";
}

async function runProbeGuest(irqchip: boolean): Promise<number> {
  const started = performance.now();
  const machine = Machine.create({ memoryBytes: 2 * 1024 * 1024, irqchip });
  try {
    machine.vm.memory.write(0x1000, PROBE_GUEST);
    enterRealMode(machine.vm.vcpus[0], 0x1000);
    if (irqchip) return performance.now() - started; // creating irqchip and PIT is the test
    const result = await machine.run({ timeoutMs: 5000 });
    if (result.reason !== "hlt" || machine.consoleText !== "!") {
      throw new Error(
        `the probe guest ended with ${result.reason} and wrote "${machine.consoleText}"`,
      );
    }
    return performance.now() - started;
  } finally {
    machine.close();
  }
}

let cached: Promise<KvmProbe> | undefined;

/** Probes once per process. */
export function probeKvm(): Promise<KvmProbe> {
  cached ??= probeNow();
  return cached;
}

async function probeNow(): Promise<KvmProbe> {
  if (!exists("/dev/kvm")) {
    return { guestPrograms: false, linuxBoot: false, module: "none", reason: "no /dev/kvm" };
  }
  const module = hypervisorModule();
  let guestMs: number;
  try {
    guestMs = await runProbeGuest(false);
  } catch (error) {
    const why = error instanceof VmError || error instanceof Error ? error.message : String(error);
    return {
      guestPrograms: false,
      linuxBoot: false,
      module,
      reason: `a guest program fails: ${why}`,
    };
  }
  try {
    await runProbeGuest(true);
  } catch (error) {
    return {
      guestPrograms: true,
      linuxBoot: false,
      module,
      guestMs,
      reason: `no in-kernel irqchip/PIT for Linux: ${(error as Error).message}`,
    };
  }
  if (module === "kvm_pvm") {
    return {
      guestPrograms: true,
      linuxBoot: false,
      module,
      guestMs,
      reason: "/dev/kvm is paravirtual (kvm_pvm), which cannot run an unmodified Linux kernel",
    };
  }
  if (module === "unknown") {
    return {
      guestPrograms: true,
      linuxBoot: false,
      module,
      guestMs,
      reason: "/dev/kvm has no known hardware virtualization module (kvm_intel or kvm_amd)",
    };
  }
  return {
    guestPrograms: true,
    linuxBoot: true,
    module,
    guestMs,
    reason: `${module}: Linux can boot`,
  };
}
