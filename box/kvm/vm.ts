/**
 * A KVM virtual machine: /dev/kvm, the VM fd, guest RAM as memory slot 0, vCPUs, the device
 * buses and the run loop. The run loop awaits KVM_RUN on the vCPU's runner thread and
 * handles each exit on the event loop: port I/O and MMIO go to the buses, HLT and the guest's
 * reset end the run, and every error exit becomes a {@linkcode VmError}.
 */
import {
  CAP,
  EXIT,
  EXIT_NAMES,
  INTERNAL_ERROR_NAMES,
  IO_DIRECTION_OUT,
  KVM,
  RUN,
  SIZEOF,
  SYSTEM_EVENT,
} from "./abi.ts";
import { DeviceBus } from "./bus.ts";
import { VmError } from "./errors.ts";
import {
  check,
  cString,
  describeErrno,
  EINTR,
  errno,
  libc,
  O_CLOEXEC,
  O_RDWR,
  SyscallError,
} from "./ffi.ts";
import { holdKicks, kickVcpu, releaseKicks } from "./kick.ts";
import { GuestMemory, GuestMemoryError } from "./memory.ts";
import { Vcpu } from "./vcpu.ts";
import { cpuidForVcpu } from "./cpuid.ts";

/** Options for {@linkcode Vm.create}. */
export interface VmOptions {
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** vCPUs to create (each is run by its own loop). */
  vcpus?: number;
  /**
   * Create the in-kernel interrupt controllers (PIC, IOAPIC, LAPIC) and the PIT. Linux needs
   * them; small guest programs run without, so their HLT exits to the VMM.
   */
  irqchip?: boolean;
  /** Path of the KVM device. */
  device?: string;
}

/** Why a run ended without an error. */
export type VmStopReason = "hlt" | "reset" | "poweroff" | "stopped";

/** The result of {@linkcode Vm.run}. */
export interface VmRunResult {
  reason: VmStopReason;
  /** Exits handled, by kind (io, mmio, ...), for diagnostics and benchmarks. */
  exits: Record<string, number>;
}

/** Where the TSS and identity-map pages go on Intel hosts: just below 4 GiB, out of RAM. */
const TSS_ADDRESS = 0xfffbd000n;
const IDENTITY_MAP_ADDRESS = 0xfffbc000n;
const KVM_API_VERSION = 12;
const MAX_VCPUS = 64;

/** A virtual machine. Close it (or let the run end and call close) to free its memory. */
export class Vm {
  readonly kvmFd: number;
  readonly fd: number;
  readonly memory: GuestMemory;
  readonly vcpus: Vcpu[] = [];
  readonly bus = new DeviceBus();
  readonly irqchip: boolean;
  #stopRequest: VmStopReason | undefined;
  #closed = false;

  private constructor(kvmFd: number, fd: number, memory: GuestMemory, irqchip: boolean) {
    this.kvmFd = kvmFd;
    this.fd = fd;
    this.memory = memory;
    this.irqchip = irqchip;
  }

  /** Opens KVM and builds the VM; everything made so far is released if a step fails. */
  static create(options: VmOptions): Vm {
    const c = libc();
    const vcpuCount = options.vcpus ?? 1;
    if (!Number.isInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > MAX_VCPUS) {
      throw new RangeError(`vcpus must be 1 to ${MAX_VCPUS}, got ${vcpuCount}`);
    }
    const device = options.device ?? "/dev/kvm";
    const kvmFd = c.open(cString(device), O_RDWR | O_CLOEXEC);
    if (kvmFd < 0) throw new SyscallError(`open ${device}`, errno());
    let vmFd = -1;
    let memory: GuestMemory | undefined;
    try {
      const version = c.ioctlInt(kvmFd, KVM.GET_API_VERSION, 0n);
      if (version !== KVM_API_VERSION) throw new Error(`KVM API version ${version}, expected 12`);
      vmFd = check("KVM_CREATE_VM", c.ioctlInt(kvmFd, KVM.CREATE_VM, 0n));
      memory = GuestMemory.allocate(options.memoryBytes);
    } catch (error) {
      memory?.free();
      if (vmFd >= 0) c.close(vmFd);
      c.close(kvmFd);
      throw error;
    }
    const vm = new Vm(kvmFd, vmFd, memory, options.irqchip ?? false);
    holdKicks();
    try {
      vm.#setup(vcpuCount);
    } catch (error) {
      vm.close();
      throw error;
    }
    return vm;
  }

  #setup(vcpuCount: number): void {
    const c = libc();
    if (this.checkExtension(CAP.SET_TSS_ADDR) > 0) {
      check("KVM_SET_TSS_ADDR", c.ioctlInt(this.fd, KVM.SET_TSS_ADDR, TSS_ADDRESS));
      const identity = new Uint8Array(8);
      new DataView(identity.buffer).setBigUint64(0, IDENTITY_MAP_ADDRESS, true);
      // Optional on AMD and on paravirtual KVM; its failure only matters to real-mode guests on
      // old Intel parts without unrestricted guest.
      c.ioctlPtr(this.fd, KVM.SET_IDENTITY_MAP_ADDR, identity);
    }
    if (this.irqchip) {
      check("KVM_CREATE_IRQCHIP", c.ioctlInt(this.fd, KVM.CREATE_IRQCHIP, 0n));
      const pit = new Uint8Array(SIZEOF.pitConfig); // flags 0: no speaker dummy port
      check("KVM_CREATE_PIT2", c.ioctlPtr(this.fd, KVM.CREATE_PIT2, pit));
    }
    const region = new Uint8Array(SIZEOF.memoryRegion);
    const view = new DataView(region.buffer);
    view.setUint32(0, 0, true); // slot
    view.setUint32(4, 0, true); // flags
    view.setBigUint64(8, 0n, true); // guest_phys_addr
    view.setBigUint64(16, BigInt(this.memory.size), true);
    view.setBigUint64(24, this.memory.hostAddress, true);
    check("KVM_SET_USER_MEMORY_REGION", c.ioctlPtr(this.fd, KVM.SET_USER_MEMORY_REGION, region));
    const runSize = check(
      "KVM_GET_VCPU_MMAP_SIZE",
      c.ioctlInt(this.kvmFd, KVM.GET_VCPU_MMAP_SIZE, 0n),
    );
    const cpuid = this.supportedCpuid();
    for (let i = 0; i < vcpuCount; i++) {
      const vcpu = new Vcpu(this.fd, i, runSize);
      this.vcpus.push(vcpu);
      vcpu.setCpuid(cpuidForVcpu(cpuid, i));
    }
  }

  /** KVM_CHECK_EXTENSION on the VM fd. */
  checkExtension(cap: number): number {
    return Math.max(0, libc().ioctlInt(this.fd, KVM.CHECK_EXTENSION, BigInt(cap)));
  }

  /**
   * KVM_GET_SUPPORTED_CPUID as a kvm_cpuid2 buffer ready for KVM_SET_CPUID2, with leaf 1's
   * hypervisor bit set so the guest knows it is virtualized.
   */
  supportedCpuid(): Uint8Array<ArrayBuffer> {
    const entries = 256;
    const table = new Uint8Array(SIZEOF.cpuidHeader + entries * SIZEOF.cpuidEntry);
    const view = new DataView(table.buffer);
    view.setUint32(0, entries, true);
    check("KVM_GET_SUPPORTED_CPUID", libc().ioctlPtr(this.kvmFd, KVM.GET_SUPPORTED_CPUID, table));
    const count = view.getUint32(0, true);
    for (let i = 0; i < count; i++) {
      const at = SIZEOF.cpuidHeader + i * SIZEOF.cpuidEntry;
      if (view.getUint32(at, true) === 1) {
        const ecx = at + 16; // function, index, flags, eax, ebx, ecx
        view.setUint32(ecx, view.getUint32(ecx, true) | (1 << 31), true);
      }
    }
    return table.slice(0, SIZEOF.cpuidHeader + count * SIZEOF.cpuidEntry);
  }

  /** Sets an interrupt line of the in-kernel irqchip (the device interrupt path). */
  setIrqLine(irq: number, level: boolean): void {
    if (!this.irqchip) throw new Error("this VM has no in-kernel irqchip");
    const bytes = new Uint8Array(SIZEOF.irqLevel);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, irq, true);
    view.setUint32(4, level ? 1 : 0, true);
    check("KVM_IRQ_LINE", libc().ioctlPtr(this.fd, KVM.IRQ_LINE, bytes));
  }

  /** Pulses an edge-triggered interrupt. */
  triggerIrq(irq: number): void {
    this.setIrqLine(irq, true);
    this.setIrqLine(irq, false);
  }

  /** Asks the run loop to end after the current exit (devices call this for reset/poweroff). */
  requestStop(reason: VmStopReason): void {
    this.#stopRequest ??= reason;
    for (const vcpu of this.vcpus) vcpu.immediateExit = true;
  }

  /**
   * Asks every vCPU to stop: each run loop ends with reason "stopped" at its vCPU's next exit, and
   * a vCPU inside KVM_RUN is kicked out by a signal (on hosts where a signal can interrupt a
   * running guest; the paravirtual kvm_pvm blocks them, see README).
   */
  stop(): void {
    this.requestStop("stopped");
    for (const vcpu of this.vcpus) kickVcpu(vcpu.fd);
  }

  /**
   * Runs vCPU `index` until it halts (without irqchip), the guest resets or powers off, or
   * {@linkcode stop} is called. `timeoutMs` bounds the run: past it the vCPU is kicked out and
   * the run fails with kind `timeout`.
   */
  async run(options: { vcpu?: number; timeoutMs?: number } = {}): Promise<VmRunResult> {
    const vcpu = this.vcpus[options.vcpu ?? 0];
    if (!vcpu) throw new RangeError(`no vCPU ${options.vcpu}`);
    const exits: Record<string, number> = {};
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let kicker: ReturnType<typeof setInterval> | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        vcpu.immediateExit = true;
        kickVcpu(vcpu.fd);
        // The kick can land in the instant before the runner thread enters the ioctl; repeat it
        // until the run loop is out.
        kicker = setInterval(() => kickVcpu(vcpu.fd), 5);
      }, options.timeoutMs);
    }
    let stopKicker: ReturnType<typeof setInterval> | undefined;
    try {
      while (true) {
        if (this.#stopRequest !== undefined && this.#stopRequest !== "stopped") {
          return { reason: this.#stopRequest, exits };
        }
        if (this.#stopRequest === "stopped") {
          stopKicker ??= setInterval(() => kickVcpu(vcpu.fd), 5);
        }
        const result = await vcpu.enter();
        if (result < 0) {
          if (timedOut) throw new VmError("timeout", `the guest ran past ${options.timeoutMs} ms`);
          if (this.#stopRequest !== undefined) return { reason: this.#stopRequest, exits };
          if (-result === EINTR) continue;
          throw new VmError("kvm_run_failed", `KVM_RUN failed: ${describeErrno(-result)}`);
        }
        if (timedOut) throw new VmError("timeout", `the guest ran past ${options.timeoutMs} ms`);
        const reason = vcpu.exitReason;
        const name = (EXIT_NAMES[reason] ?? String(reason)).toLowerCase();
        exits[name] = (exits[name] ?? 0) + 1;
        const ended = this.#handleExit(vcpu, reason);
        if (ended) return { reason: ended, exits };
      }
    } finally {
      clearTimeout(timer);
      clearInterval(kicker);
      clearInterval(stopKicker);
      vcpu.immediateExit = false;
    }
  }

  #rip(vcpu: Vcpu): bigint | undefined {
    try {
      return vcpu.getRegs().rip;
    } catch {
      return undefined;
    }
  }

  #handleExit(vcpu: Vcpu, reason: number): VmStopReason | undefined {
    const run = vcpu.run;
    switch (reason) {
      case EXIT.IO: {
        const out = run.getUint8(RUN.ioDirection) === IO_DIRECTION_OUT;
        const size = run.getUint8(RUN.ioSize);
        const port = run.getUint16(RUN.ioPort, true);
        const count = run.getUint32(RUN.ioCount, true);
        let at = Number(run.getBigUint64(RUN.ioDataOffset, true));
        if (at + size * count > vcpu.runBytes.length) {
          throw new VmError("unhandled_exit", "I/O exit data lies outside kvm_run");
        }
        for (let i = 0; i < count; i++, at += size) {
          if (out) {
            const value = size === 1
              ? run.getUint8(at)
              : size === 2
              ? run.getUint16(at, true)
              : run.getUint32(at, true);
            this.bus.pioWrite(port, size, value);
          } else {
            const value = this.bus.pioRead(port, size);
            if (size === 1) run.setUint8(at, value);
            else if (size === 2) run.setUint16(at, value, true);
            else run.setUint32(at, value >>> 0, true);
          }
        }
        return this.#stopRequest === "stopped" ? undefined : this.#stopRequest;
      }
      case EXIT.MMIO: {
        const address = Number(run.getBigUint64(RUN.mmioPhysAddr, true));
        const length = Math.min(8, run.getUint32(RUN.mmioLen, true));
        const data = vcpu.runBytes.subarray(RUN.mmioData, RUN.mmioData + length);
        try {
          if (run.getUint8(RUN.mmioIsWrite)) this.bus.mmioWrite(address, data);
          else this.bus.mmioRead(address, data);
        } catch (error) {
          if (error instanceof GuestMemoryError) {
            throw new VmError("guest_memory", `a device refused a guest access: ${error.message}`);
          }
          throw error;
        }
        return this.#stopRequest === "stopped" ? undefined : this.#stopRequest;
      }
      case EXIT.HLT:
        return "hlt";
      case EXIT.SHUTDOWN:
        throw new VmError(
          "triple_fault",
          "the guest triple-faulted (KVM_EXIT_SHUTDOWN)",
          this.#rip(vcpu),
        );
      case EXIT.FAIL_ENTRY: {
        const why = run.getBigUint64(RUN.failEntryReason, true);
        throw new VmError(
          "fail_entry",
          `the CPU refused to enter the guest (hardware reason 0x${why.toString(16)})`,
        );
      }
      case EXIT.INTERNAL_ERROR: {
        const sub = run.getUint32(RUN.internalSuberror, true);
        throw new VmError(
          "internal_error",
          `KVM internal error: ${INTERNAL_ERROR_NAMES[sub] ?? `suberror ${sub}`}`,
          this.#rip(vcpu),
        );
      }
      case EXIT.SYSTEM_EVENT: {
        const type = run.getUint32(RUN.systemEventType, true);
        if (type === SYSTEM_EVENT.RESET) return "reset";
        if (type === SYSTEM_EVENT.SHUTDOWN) return "poweroff";
        throw new VmError("guest_panic", `the guest reported a crash (system event ${type})`);
      }
      case EXIT.INTR:
        return this.#stopRequest;
      default:
        throw new VmError(
          "unhandled_exit",
          `unhandled exit ${EXIT_NAMES[reason] ?? reason}`,
          this.#rip(vcpu),
        );
    }
  }

  /** Whether {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the vCPUs and the VM and unmaps guest RAM. Call it once the run loop is done. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const vcpu of this.vcpus) vcpu.close();
    const c = libc();
    c.close(this.fd);
    // KVM holds a reference on the memory until the VM fd is closed; unmap after.
    this.memory.free();
    c.close(this.kvmFd);
    releaseKicks();
  }
}
