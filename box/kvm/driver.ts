/**
 * The `kvm` box driver: boxes on our own VMM. `box info` shows the startup probe's answer (guest
 * programs, Linux boot, and why). Running a box needs the Linux boot path; where the probe says
 * it is not there, every call fails at once with the probe's one-line reason, so `box run
 * --driver kvm` never hangs and the default driver choice falls back to the others.
 */
import { A3sError } from "@a3s/common";
import type {
  BoxDriver,
  BoxSpec,
  BoxStats,
  DriverBoxState,
  DriverProbe,
  ExecProcess,
  StartedBox,
} from "../types.ts";
import { type KvmProbe, probeKvm } from "./probe.ts";
import { detectTee } from "./tee/detect.ts";

/** The kvm driver. */
export class KvmDriver implements BoxDriver {
  readonly name = "kvm";
  readonly isolation = "vm" as const;
  readonly #probe: () => Promise<KvmProbe>;

  constructor(options: { probe?: () => Promise<KvmProbe> } = {}) {
    this.#probe = options.probe ?? probeKvm;
  }

  async probe(): Promise<DriverProbe> {
    const probe = await this.#probe();
    const tee = await detectTee();
    const features = {
      guestPrograms: probe.guestPrograms,
      linuxBoot: probe.linuxBoot,
      hypervisor: probe.module,
      tee: tee.kind === "none" ? "none" : `${tee.kind} (${tee.role})`,
    };
    const guest = probe.guestPrograms
      ? `guest programs run (${probe.guestMs?.toFixed(1)} ms to HLT)`
      : "guest programs cannot run";
    return {
      name: this.name,
      isolation: this.isolation,
      strength: 25,
      // Boxes need Linux; the box lifecycle on this VMM (agent over the frame port, detached
      // VMM process) is not wired yet, so the driver never claims to run boxes.
      available: false,
      detail: probe.linuxBoot
        ? `${guest}; Linux can boot here, but boxes on the kvm VMM are not wired to the guest agent yet`
        : `${guest}; cannot boot Linux: ${probe.reason}`,
      features,
    };
  }

  async #refuse(): Promise<never> {
    const detail = (await this.probe()).detail;
    throw new A3sError("driver_unavailable", `the kvm driver cannot run boxes here: ${detail}`, {
      status: 400,
      field: "driver",
    });
  }

  create(_spec: BoxSpec): Promise<void> {
    return this.#refuse();
  }
  start(): Promise<StartedBox> {
    return this.#refuse();
  }
  exec(): Promise<ExecProcess> {
    return this.#refuse();
  }
  stop(): Promise<void> {
    return this.#refuse();
  }
  kill(): Promise<void> {
    return this.#refuse();
  }
  state(): Promise<DriverBoxState> {
    return Promise.resolve({ running: false, reason: "start_failed" });
  }
  stats(): Promise<BoxStats> {
    return Promise.resolve({});
  }
  copyIn(): Promise<void> {
    return this.#refuse();
  }
  copyOut(): Promise<Uint8Array> {
    return this.#refuse();
  }
  remove(): Promise<void> {
    // create never made anything, so there is nothing to release.
    return Promise.resolve();
  }
}
