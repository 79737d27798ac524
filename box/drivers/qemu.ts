/**
 * The qemu driver: each box is a QEMU `microvm` (on KVM, or under TCG) booting the host's Debian
 * kernel with an initramfs built from the image's rootfs, the guest agent as `/init` and the
 * virtio modules it loads. Host and agent speak the frame protocol over a virtio-serial port backed by a unix
 * socket in the box's state dir; a second port carries the exit status out. The main command's
 * stdout and stderr leave on two ports of their own, so each lands in its own log
 * (`_vm_log_keeper.ts`). KVM is used when it can boot a standard kernel, TCG otherwise.
 */
import { basename, join } from "node:path";
import { A3sError } from "@a3s/common";
import { AgentClient } from "../agent/client.ts";
import { buildAgent } from "../agent/build.ts";
import { connectAgentSocket } from "../agent/connect.ts";
import type {
  BoxDriver,
  BoxLimits,
  BoxOutput,
  BoxSpec,
  BoxStats,
  DriverBoxState,
  DriverProbe,
  ExecProcess,
  ExecRequest,
  ExitReason,
  StartedBox,
} from "../types.ts";
import { type CpioEntry, directoryEntries, S_IFCHR, S_IFDIR, S_IFREG, writeCpio } from "./cpio.ts";
import { isAlive, type ProcessIdentity, signalVmProcess, stopVmProcess } from "./_proc.ts";
import { abandonedBox, type StarterRecord, writeStartedRecord } from "./_starter.ts";
import {
  agentSocket,
  connectPodAgent,
  GuestContainers,
  POD_AGENT_PORTS,
  POD_GUEST_DIR,
  POD_SHARE_TAG,
  podShareDir,
  unmountUnder,
} from "./qemu_pod.ts";
import { exists } from "../_exists.ts";
import { awaitLogKeeper, removeStateDir } from "../log_files.ts";
import { keptLogsPrefix, vmFdPath, vmLogPath } from "./_vm_log_keeper.ts";
import { qemuOutputs } from "./_qemu_outputs.ts";
import { podLogGrants } from "./_pod_logs.ts";

/** Kernel modules every box loads, in dependency order. */
const MODULES = [
  "kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/virtio/virtio.ko",
  "kernel/drivers/virtio/virtio_mmio.ko",
  "kernel/drivers/char/virtio_console.ko",
];
/** Modules for volumes (virtio-9p), loaded only by boxes that mount some. */
const VOLUME_MODULES = [
  "kernel/fs/netfs/netfs.ko",
  "kernel/fs/fscache/fscache.ko",
  "kernel/net/9p/9pnet.ko",
  "kernel/net/9p/9pnet_virtio.ko",
  "kernel/fs/9p/9p.ko",
];
/** Modules for a network card (virtio-net), loaded only by boxes that have one. */
const NETWORK_MODULES = [
  "kernel/net/core/failover.ko",
  "kernel/drivers/net/net_failover.ko",
  "kernel/drivers/net/virtio_net.ko",
];
/** QEMU's user-mode network answers DNS here; a box with full networking resolves through it. */
const USER_NET_DNS = "10.0.2.3";

/** Debian's kernels tick at 250 Hz; the delay loop's calibration is given per tick. */
const GUEST_HZ = 250;

/**
 * The host's TSC rate in kHz, which is also the guest's under TCG (QEMU's emulated TSC reads
 * the host's). `cpu MHz` is that rate on hosts with a constant TSC; 2 GHz otherwise, which only
 * skews the guest's clock, never its boot.
 */
async function hostTscKhz(): Promise<number> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1]);
  return mhz > 0 ? Math.round(mhz * 1000) : 2_000_000;
}

/**
 * The kernel command line for microvm. microvm has no HPET or ACPI PM timer, so under TCG the
 * kernel cannot calibrate the TSC (nothing to measure it against; the PIT it falls back to is
 * too coarse under emulation) and stalls after "Marking TSC unstable". Telling it the TSC rate
 * and the delay loop's length skips both calibrations; `no_timer_check` skips the IO-APIC timer
 * test, which also relies on the PIT. Under KVM the paravirtual clock needs none of this.
 */
export async function microvmCmdline(accel: "kvm" | "tcg"): Promise<string> {
  const base = "console=ttyS0 quiet loglevel=0 panic=-1 rdinit=/init";
  if (accel === "kvm") return base;
  const khz = await hostTscKhz();
  return `${base} tsc_early_khz=${khz} lpj=${Math.round(khz * 1000 / GUEST_HZ)} no_timer_check`;
}

/** QEMU option values separate with commas; a comma inside one is written twice. */
function optionValue(value: string): string {
  return value.replaceAll(",", ",,");
}
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const encoder = new TextEncoder();

/** Options for {@linkcode QemuDriver}. */
export interface QemuDriverOptions {
  /** Where the built guest agent is cached. */
  agentCacheDir: string;
  /** Cached initramfs archives live here. */
  workDir: string;
  /** The kernel image; the newest `/boot/vmlinuz-*` unless set. */
  kernel?: string;
  /** The qemu binary; `qemu-system-x86_64` on PATH unless set. */
  qemu?: string;
  /** `auto` picks KVM only when it can boot a standard kernel. */
  accel?: "auto" | "kvm" | "tcg";
  /** How long start waits for the agent (TCG boots take seconds). */
  bootTimeoutMs?: number;
}

/** The VM's host process; its box and starter (see `_starter.ts`) for the abandoned-box sweep. */
interface PidRecord extends ProcessIdentity, StarterRecord {
  memoryMiB: number;
}

async function readPidRecord(path: string): Promise<PidRecord | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as PidRecord;
  } catch {
    return undefined;
  }
}

async function newestKernel(): Promise<string | undefined> {
  const kernels: string[] = [];
  try {
    for await (const entry of Deno.readDir("/boot")) {
      if (entry.name.startsWith("vmlinuz-")) kernels.push(join("/boot", entry.name));
    }
  } catch {
    return undefined;
  }
  return kernels.sort().pop();
}

/** KVM that boots an unmodified kernel: hardware virtualization, not a paravirtual shim. */
async function hardwareKvm(): Promise<{ usable: boolean; why: string }> {
  if (!(await exists("/dev/kvm"))) return { usable: false, why: "no /dev/kvm" };
  if (await exists("/sys/module/kvm_intel") || await exists("/sys/module/kvm_amd")) {
    return { usable: true, why: "kvm" };
  }
  if (await exists("/sys/module/kvm_pvm")) {
    return {
      usable: false,
      why: "/dev/kvm is paravirtual (kvm_pvm) and cannot boot a standard kernel",
    };
  }
  return { usable: false, why: "/dev/kvm has no hardware virtualization module" };
}

/**
 * The QEMU microvm driver.
 *
 * @example
 * ```ts
 * import { QemuDriver } from "@a3s/box";
 * const driver = new QemuDriver({ agentCacheDir: "/tmp/a3s-agent", workDir: "/tmp/a3s-qemu" });
 * console.log((await driver.probe()).detail);
 * ```
 */
export class QemuDriver implements BoxDriver {
  /** The driver's name, as `--driver` takes it. */
  readonly name = "qemu";
  /** Boxes run in a VM with their own kernel. */
  readonly isolation = "vm" as const;
  readonly #options: QemuDriverOptions;
  readonly #qemu: string;
  /** Pod members: boxes that run inside their pod sandbox's VM. */
  readonly #members = new GuestContainers();

  /** A driver that boots boxes as qemu VMs; nothing is checked until `probe` or `create`. */
  constructor(options: QemuDriverOptions) {
    this.#options = options;
    this.#qemu = options.qemu ?? "qemu-system-x86_64";
  }

  async #kernel(): Promise<{ kernel: string; modulesDir: string } | undefined> {
    const kernel = this.#options.kernel ?? await newestKernel();
    if (!kernel || !(await exists(kernel))) return undefined;
    const version = basename(kernel).replace(/^vmlinuz-/, "");
    return { kernel, modulesDir: join("/lib/modules", version) };
  }

  async #accel(): Promise<{ accel: "kvm" | "tcg"; why: string }> {
    const wanted = this.#options.accel ?? "auto";
    if (wanted === "tcg") return { accel: "tcg", why: "tcg (configured)" };
    const kvm = await hardwareKvm();
    if (wanted === "kvm" || kvm.usable) return { accel: "kvm", why: "kvm" };
    return { accel: "tcg", why: `tcg: ${kvm.why}` };
  }

  async probe(): Promise<DriverProbe> {
    const base = { name: this.name, isolation: this.isolation, strength: 20 };
    // A missing program throws as the command spawns, not in the promise: hence the `then`.
    const version = await Promise.resolve().then(() =>
      new Deno.Command(this.#qemu, { args: ["--version"], stdout: "piped", stderr: "null" })
        .output()
    ).catch(() => undefined);
    const kernel = await this.#kernel();
    const accel = await this.#accel();
    const features = {
      accel: accel.accel,
      kernel: kernel?.kernel ?? "none",
      volumes: true,
      network: true,
      ports: true,
      pods: true,
      tty: true,
    };
    if (!version?.success) {
      return {
        ...base,
        available: false,
        detail: `${this.#qemu} not found (install qemu-system-x86)`,
        features,
      };
    }
    if (!kernel) {
      return {
        ...base,
        available: false,
        detail: "no kernel in /boot (install linux-image-amd64)",
        features,
      };
    }
    for (const module of [...MODULES, ...VOLUME_MODULES, ...NETWORK_MODULES]) {
      if (!(await exists(join(kernel.modulesDir, module)))) {
        return { ...base, available: false, detail: `kernel module ${module} missing`, features };
      }
    }
    try {
      await Deno.open(kernel.kernel).then((f) => f.close());
    } catch {
      return { ...base, available: false, detail: `cannot read ${kernel.kernel}`, features };
    }
    // TCG boots in seconds, not milliseconds: it works, but ranks below namespaces by default.
    const strength = accel.accel === "kvm" ? 20 : 5;
    return { ...base, strength, available: true, detail: `microvm, ${accel.why}`, features };
  }

  #paths(spec: BoxSpec) {
    return {
      socket: agentSocket(spec.stateDir, 0),
      status: join(spec.stateDir, "status"),
      initramfs: join(spec.stateDir, "initramfs.cpio"),
      pid: join(spec.stateDir, "pid.json"),
    };
  }

  /**
   * Volumes are shared over virtio-9p, which exports directories: a host file cannot be one.
   * `--network host` becomes QEMU's user-mode network (NAT through the host); without it a box
   * has no network card, or, to publish ports, one that reaches nothing (`restrict=on`). With
   * `netns` QEMU runs in that network namespace, where the published ports then listen.
   */
  async create(spec: BoxSpec): Promise<void> {
    if (spec.pod?.role === "member") return await this.#members.create(spec);
    // No security settings inside a VM of its own (the VM is the boundary): refused rather than
    // silently ignored.
    const security = Object.entries(spec.security ?? {}).find(([, value]) =>
      value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0)
    );
    if (security) {
      throw new A3sError("unimplemented", `the qemu driver cannot apply security.${security[0]}`, {
        status: 501,
        field: `security.${security[0]}`,
      });
    }
    for (const [i, volume] of spec.volumes.entries()) {
      const info = await Deno.stat(volume.host).catch(() => undefined);
      if (!info?.isDirectory) {
        throw new A3sError(
          "unsupported",
          `the qemu driver shares directories only; ${volume.host} is not one`,
          { status: 400, field: `volumes.${i}` },
        );
      }
    }
    // A VM joins a network namespace by running QEMU inside it: its user-mode network's
    // forwarded ports then listen on the namespace's addresses (a pod VM's pod IP).
    if (spec.netns && !(await Deno.stat(spec.netns).catch(() => undefined))) {
      throw new A3sError("unsupported", `no network namespace at ${spec.netns}`, {
        status: 400,
        field: "netns",
      });
    }
    await Deno.mkdir(spec.stateDir, { recursive: true });
    // A pod sandbox's VM shares this directory with the pod's members (see qemu_pod.ts); the
    // grants of their logs stay out of it (see _pod_logs.ts).
    if (spec.pod?.role === "sandbox") {
      await Deno.mkdir(join(podShareDir(spec.stateDir), "c"), { recursive: true });
      await Deno.mkdir(podLogGrants(spec.stateDir), { recursive: true });
    }
  }

  /** The image's initramfs with the agent and modules, cached per rootfs, agent and kernel. */
  async #baseInitramfs(spec: BoxSpec, agent: string, modulesDir: string): Promise<string> {
    const dir = join(this.#options.workDir, "initramfs");
    await Deno.mkdir(dir, { recursive: true });
    const key = `${basename(spec.rootfs)}-${basename(agent)}-${basename(modulesDir)}`;
    const path = join(dir, `${key}.cpio`);
    if (await exists(path)) return path;
    const entries = (await directoryEntries(spec.rootfs)).filter((e) => e.path !== "init");
    const extra: CpioEntry[] = [
      { path: "init", mode: S_IFREG | 0o755, data: await Deno.readFile(agent) },
      { path: "dev", mode: S_IFDIR | 0o755 },
      { path: "dev/console", mode: S_IFCHR | 0o600, rdev: [5, 1] },
      { path: "lib", mode: S_IFDIR | 0o755 },
      { path: "lib/a3s-modules", mode: S_IFDIR | 0o755 },
      { path: "a3s", mode: S_IFDIR | 0o755 },
      {
        path: "a3s/modules",
        mode: S_IFREG | 0o644,
        data: encoder.encode(MODULES.map((m) => `/lib/a3s-modules/${basename(m)}\n`).join("")),
      },
    ];
    for (const module of [...MODULES, ...VOLUME_MODULES, ...NETWORK_MODULES]) {
      extra.push({
        path: `lib/a3s-modules/${basename(module)}`,
        mode: S_IFREG | 0o644,
        data: await Deno.readFile(join(modulesDir, module)),
      });
    }
    const temp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(temp, writeCpio([...entries, ...extra]));
    await Deno.rename(temp, path);
    return path;
  }

  async start(spec: BoxSpec, output: BoxOutput): Promise<StartedBox> {
    if (spec.pod?.role === "member") return await this.#members.start(spec, output);
    const kernel = await this.#kernel();
    if (!kernel) throw new A3sError("driver_unavailable", "no kernel for the qemu driver");
    const paths = this.#paths(spec);
    const agent = await buildAgent(this.#options.agentCacheDir);
    const base = await this.#baseInitramfs(spec, agent, kernel.modulesDir);
    const env = { PATH: DEFAULT_PATH, ...(spec.user ? {} : { HOME: "/root" }), ...spec.env };
    const network = spec.network === "host" || (spec.ports?.length ?? 0) > 0;
    const sandbox = spec.pod?.role === "sandbox";
    const modules = [
      ...MODULES,
      ...(spec.volumes.length || sandbox ? VOLUME_MODULES : []),
      ...(network ? NETWORK_MODULES : []),
    ];
    const mounts = spec.volumes.map((v, i) =>
      `a3s-vol${i}\0${v.guest}\0${v.readOnly ? "ro" : "rw"}\0`
    );
    if (sandbox) mounts.push(`${POD_SHARE_TAG}\0${POD_GUEST_DIR}\0rw\0`);
    // A pod's VM serves several host clients at once, one per agent port.
    const extraPorts = sandbox ? POD_AGENT_PORTS - 1 : 0;
    // After the agent's ports: the main command's stdout and stderr, and a pod's member logs.
    const outputs = qemuOutputs(extraPorts, sandbox);
    // Later entries of the concatenated archive replace the base's: this box's module list.
    const boxArchive = writeCpio([
      { path: "a3s", mode: S_IFDIR | 0o755 },
      {
        path: "a3s/modules",
        mode: S_IFREG | 0o644,
        data: encoder.encode(modules.map((m) => `/lib/a3s-modules/${basename(m)}\n`).join("")),
      },
      ...(mounts.length
        ? [{ path: "a3s/mounts", mode: S_IFREG | 0o644, data: encoder.encode(mounts.join("")) }]
        : []),
      ...(network
        ? [{
          path: "a3s/net",
          mode: S_IFREG | 0o644,
          data: encoder.encode(spec.network === "host" ? USER_NET_DNS : ""),
        }]
        : []),
      ...(spec.user
        ? [{ path: "a3s/user", mode: S_IFREG | 0o644, data: encoder.encode(`${spec.user}\0`) }]
        : []),
      // The main command on a terminal, its output copied to the stdout port (the stdout log).
      ...(spec.tty
        ? [{ path: "a3s/tty", mode: S_IFREG | 0o644, data: encoder.encode("1\0") }]
        : []),
      ...(extraPorts
        ? [{ path: "a3s/ports", mode: S_IFREG | 0o644, data: encoder.encode(`${extraPorts}\0`) }]
        : []),
      ...outputs.archive,
      ...(spec.hostname
        ? [{
          path: "a3s/hostname",
          mode: S_IFREG | 0o644,
          data: encoder.encode(`${spec.hostname}\0`),
        }]
        : []),
      {
        path: "a3s/cmd",
        mode: S_IFREG | 0o644,
        data: encoder.encode(spec.command.map((a) => `${a}\0`).join("")),
      },
      {
        path: "a3s/env",
        mode: S_IFREG | 0o644,
        data: encoder.encode(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join("")),
      },
      {
        path: "a3s/timeout",
        mode: S_IFREG | 0o644,
        data: encoder.encode(`${spec.timeoutSeconds ?? 0}\0`),
      },
    ]);
    const initramfs = await Deno.open(paths.initramfs, {
      write: true,
      create: true,
      truncate: true,
    });
    try {
      await (await Deno.open(base)).readable.pipeTo(initramfs.writable, { preventClose: true });
      await initramfs.write(boxArchive);
    } finally {
      initramfs.close();
    }
    await Deno.remove(paths.status).catch(() => {});
    await Deno.writeFile(paths.status, new Uint8Array());
    await Deno.remove(paths.socket).catch(() => {});

    const { accel } = await this.#accel();
    // A pod's VM holds all of the pod's containers; they share its memory.
    const defaultMiB = sandbox ? 512 : 256;
    const memoryMiB = Math.max(
      128,
      Math.ceil((spec.limits.memoryBytes ?? defaultMiB * 1024 * 1024) / 1024 / 1024),
    );
    const cpus = Math.max(1, Math.ceil(spec.limits.cpus ?? 1));
    // microvm on KVM and TCG alike: no firmware tables to scan, no PCI bus to enumerate, virtio
    // over MMIO (found through ACPI). See microvmCmdline for what TCG needs to boot on it.
    const machine = "microvm";
    const args = [
      "-M",
      machine,
      "-accel",
      accel,
      "-cpu",
      accel === "kvm" ? "host" : "max",
      "-m",
      `${memoryMiB}M`,
      "-smp",
      String(cpus),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-kernel",
      kernel.kernel,
      "-initrd",
      paths.initramfs,
      "-append",
      await microvmCmdline(accel),
      // The kernel's and the agent's messages, with QEMU's own, in vm.log (see _vm_log_keeper.ts).
      "-chardev",
      `file,id=console,path=${vmFdPath(1)},append=on`,
      "-serial",
      "chardev:console",
      "-device",
      `virtio-serial-device,max_ports=${outputs.maxPorts}`,
      "-chardev",
      `socket,id=agent,path=${paths.socket},server=on,wait=off`,
      "-device",
      "virtserialport,chardev=agent,name=a3s.agent,nr=1",
      "-chardev",
      `file,id=status,path=${paths.status}`,
      "-device",
      "virtserialport,chardev=status,name=a3s.status,nr=2",
    ];
    for (let k = 1; k <= extraPorts; k++) {
      const socket = agentSocket(spec.stateDir, k);
      await Deno.remove(socket).catch(() => {});
      args.push(
        "-chardev",
        `socket,id=agent${k},path=${socket},server=on,wait=off`,
        "-device",
        `virtserialport,chardev=agent${k},name=a3s.agent.${k},nr=${2 + k}`,
      );
    }
    args.push(...outputs.args);
    if (sandbox) {
      // The members' rootfs are overlays mounted under the share: other devices than the
      // share's own, whose inode numbers remap keeps apart.
      args.push(
        "-fsdev",
        `local,id=pod,path=${
          optionValue(podShareDir(spec.stateDir))
        },security_model=passthrough,multidevs=remap`,
        "-device",
        `virtio-9p-device,fsdev=pod,mount_tag=${POD_SHARE_TAG}`,
      );
    }
    for (const [i, volume] of spec.volumes.entries()) {
      args.push(
        "-fsdev",
        `local,id=vol${i},path=${optionValue(volume.host)},security_model=passthrough${
          volume.readOnly ? ",readonly=on" : ""
        }`,
        "-device",
        `virtio-9p-device,fsdev=vol${i},mount_tag=a3s-vol${i}`,
      );
    }
    if (network) {
      const forwards = (spec.ports ?? []).map((p) =>
        `,hostfwd=tcp:${p.hostIp}:${p.hostPort}-:${p.guestPort}`
      );
      // Without --network host the card only carries the published ports in: restrict=on lets
      // the guest reach neither the host nor the outside.
      const restrict = spec.network === "host" ? "" : ",restrict=on";
      args.push(
        "-netdev",
        `user,id=net0${restrict}${forwards.join("")}`,
        "-device",
        "virtio-net-device,netdev=net0",
      );
    }
    // The keeper names itself there (a sandbox created before the grants existed has none yet).
    if (sandbox) await Deno.mkdir(podLogGrants(spec.stateDir), { recursive: true });
    const command = [
      // keep-logs and nsenter each exec the next in place, so the recorded pid is QEMU's.
      ...keptLogsPrefix(
        agent,
        output,
        spec.stateDir,
        sandbox ? podLogGrants(spec.stateDir) : undefined,
      ),
      ...(spec.netns ? ["nsenter", `--net=${spec.netns}`] : []),
      this.#qemu,
      ...args,
    ];
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    writeStartedRecord(paths.pid, child.pid, this.name, spec.id, { memoryMiB });
    let exited = false;
    child.status.then(() => exited = true);
    child.unref();
    await this.#waitForAgent(spec, () => exited, output);
    return { pid: child.pid };
  }

  async #waitForAgent(spec: BoxSpec, exited: () => boolean, output: BoxOutput): Promise<void> {
    const deadline = Date.now() + (this.#options.bootTimeoutMs ?? 60_000);
    const failure = async () => {
      if ((await this.#status(spec)) !== undefined) return undefined;
      // QEMU's last words may still be in the keeper's pipe.
      await awaitLogKeeper(output.stdoutPath);
      const messages = await Deno.readTextFile(vmLogPath(spec.stateDir)).catch(() => "");
      const line = messages.trim().split("\n").pop() ?? "";
      return new A3sError("box_start_failed", `VM failed to boot: ${line || "qemu exited"}`);
    };
    while (Date.now() < deadline) {
      if (exited() || !(await this.#running(spec))) {
        const error = await failure();
        if (error) throw error;
        return;
      }
      let client: AgentClient | undefined;
      try {
        const conn = await Deno.connect({ transport: "unix", path: this.#paths(spec).socket });
        client = new AgentClient(conn);
        await client.health(Math.max(100, Math.min(2000, deadline - Date.now())));
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        client?.close();
      }
    }
    await this.kill(spec, 9);
    throw new A3sError("box_start_failed", "VM agent did not answer before the boot timeout");
  }

  #record(spec: BoxSpec): Promise<PidRecord | undefined> {
    return readPidRecord(this.#paths(spec).pid);
  }

  async #running(spec: BoxSpec): Promise<boolean> {
    const record = await this.#record(spec);
    return record !== undefined && await isAlive(record);
  }

  async #status(
    spec: BoxSpec,
  ): Promise<{ code: number; signal: number; reason: string } | undefined> {
    const text = await Deno.readTextFile(this.#paths(spec).status).catch(() => "");
    const match = text.match(/(\d+) (\d+) (\w+)/);
    return match
      ? { code: Number(match[1]), signal: Number(match[2]), reason: match[3] }
      : undefined;
  }

  async #connect(spec: BoxSpec): Promise<AgentClient> {
    if (spec.pod?.role === "sandbox") return await connectPodAgent(spec.stateDir);
    return await connectAgentSocket(this.#paths(spec).socket, spec.id.slice(0, 12));
  }

  async exec(spec: BoxSpec, request: ExecRequest): Promise<ExecProcess> {
    if (spec.pod?.role === "member") return await this.#members.exec(spec, request);
    const client = await this.#connect(spec);
    const process = await client.exec(request);
    process.status.finally(() => client.close()).catch(() => {});
    return process;
  }

  /** QEMU ends the VM on SIGTERM; nothing in the guest outlives it. */
  async stop(spec: BoxSpec, graceSeconds: number): Promise<void> {
    if (spec.pod?.role === "member") return await this.#members.stop(spec, graceSeconds);
    await stopVmProcess(
      await this.#record(spec),
      graceSeconds,
      () => this.#running(spec),
      () => this.kill(spec, 9),
    );
  }

  async kill(spec: BoxSpec, signal: number): Promise<void> {
    if (spec.pod?.role === "member") return await this.#members.kill(spec, signal);
    await signalVmProcess("qemu", await this.#record(spec), signal, () => this.#running(spec));
  }

  async state(spec: BoxSpec): Promise<DriverBoxState> {
    if (spec.pod?.role === "member") return await this.#members.state(spec);
    const record = await this.#record(spec);
    if (record && await isAlive(record)) return { running: true, pid: record.pid };
    const status = await this.#status(spec);
    return {
      running: false,
      exitCode: status?.code ?? 137,
      signal: status?.signal ?? 9,
      reason: (status?.reason as ExitReason | undefined) ?? "killed",
    };
  }

  /** The VM process's resident memory and CPU time, with the VM's memory size as the limit. */
  async stats(spec: BoxSpec): Promise<BoxStats> {
    if (spec.pod?.role === "member") return await this.#members.stats(spec);
    const record = await this.#record(spec);
    if (!record) return {};
    const stat = await Deno.readTextFile(`/proc/${record.pid}/stat`).catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    const rss = Number(fields[21] ?? 0) * 4096;
    return {
      memoryBytes: rss || undefined,
      memoryLimitBytes: record.memoryMiB * 1024 * 1024,
      cpuSeconds: ticks / 100,
    };
  }

  async copyIn(spec: BoxSpec, data: Uint8Array, guestPath: string, mode: number): Promise<void> {
    if (spec.pod?.role === "member") {
      return await this.#members.copyIn(spec, data, guestPath, mode);
    }
    const client = await this.#connect(spec);
    try {
      await client.put(guestPath, data, mode);
    } finally {
      client.close();
    }
  }

  async copyOut(spec: BoxSpec, guestPath: string): Promise<Uint8Array> {
    if (spec.pod?.role === "member") return await this.#members.copyOut(spec, guestPath);
    const client = await this.#connect(spec);
    try {
      return await client.get(guestPath);
    } finally {
      client.close();
    }
  }

  /**
   * A VM started by a `run` that died before it wrote the box's row: its QEMU process would run
   * on with no row to stop it. The manager removes it (kills the process, removes its state).
   */
  async abandoned(stateDir: string): Promise<string | undefined> {
    const record = await readPidRecord(join(stateDir, "pid.json"));
    return await abandonedBox(stateDir, record, this.name);
  }

  async remove(spec: BoxSpec): Promise<void> {
    if (spec.pod?.role === "member") return await this.#members.remove(spec);
    if (await this.#running(spec)) await this.kill(spec, 9);
    // A pod sandbox's share may still hold members' mounts (their volumes are host paths).
    await unmountUnder(spec.stateDir);
    await removeStateDir(spec.stateDir).catch(() => {});
  }

  /** A pod member's writable layer; a VM of its own keeps none on the host. */
  async writableLayer(spec: BoxSpec): Promise<string | undefined> {
    return spec.pod?.role === "member" ? await this.#members.writableLayer(spec) : undefined;
  }

  /** Unmounts a stopped pod member's rootfs; a VM of its own has nothing mounted. */
  async releaseRootfs(spec: BoxSpec): Promise<void> {
    if (spec.pod?.role === "member") await this.#members.releaseRootfs(spec);
  }

  /** A pod member's limits change live (its cgroup in the VM); a VM's own size is fixed. */
  async updateLimits(spec: BoxSpec, limits: BoxLimits): Promise<void> {
    if (spec.pod?.role === "member") return await this.#members.updateLimits(spec, limits);
    throw new A3sError(
      "unsupported",
      "a qemu box's memory and CPUs are fixed while its VM runs; stop it first",
      { status: 409, field: "box" },
    );
  }

  /** Resizes the terminal of a box whose main process runs on one (`tty`). */
  async resizeTerminal(spec: BoxSpec, rows: number, cols: number): Promise<void> {
    if (spec.pod?.role === "member") return await this.#members.resizeTerminal(spec, rows, cols);
    const client = await this.#connect(spec);
    try {
      await client.containerControl(`T${Math.floor(rows)}x${Math.floor(cols)} main`);
    } finally {
      client.close();
    }
  }
}
