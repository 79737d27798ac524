/**
 * One vCPU: its fd, its mmap'd kvm_run area, and the register ioctls. KVM_RUN itself goes through
 * the vCPU's runner worker (runner.ts), so it blocks that thread rather than the event loop.
 */
import {
  decodeRegs,
  decodeSregs,
  encodeRegs,
  encodeSregs,
  KVM,
  type Regs,
  RUN,
  SIZEOF,
  type Sregs,
} from "./abi.ts";
import { check, libc, MAP_SHARED, PROT_READ, PROT_WRITE, SyscallError } from "./ffi.ts";
import { VcpuRunner } from "./runner.ts";

/** A vCPU of a {@linkcode Vm}. */
export class Vcpu {
  readonly fd: number;
  readonly index: number;
  readonly #runPointer: Deno.PointerObject;
  readonly #runSize: number;
  /** The kvm_run area, shared with the kernel. */
  readonly run: DataView<ArrayBuffer>;
  readonly runBytes: Uint8Array<ArrayBuffer>;
  #closed = false;
  #runner: VcpuRunner | undefined;

  constructor(vmFd: number, index: number, runSize: number) {
    const c = libc();
    this.index = index;
    this.fd = check("KVM_CREATE_VCPU", c.ioctlInt(vmFd, KVM.CREATE_VCPU, BigInt(index)));
    const pointer = c.mmap(null, BigInt(runSize), PROT_READ | PROT_WRITE, MAP_SHARED, this.fd, 0n);
    if (pointer === null || Deno.UnsafePointer.value(pointer) === 0xffffffffffffffffn) {
      c.close(this.fd);
      throw new SyscallError("mmap kvm_run", 12);
    }
    this.#runPointer = pointer;
    this.#runSize = runSize;
    const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, runSize);
    this.run = new DataView(buffer);
    this.runBytes = new Uint8Array(buffer);
  }

  getRegs(): Regs {
    const bytes = new Uint8Array(SIZEOF.regs);
    check("KVM_GET_REGS", libc().ioctlPtr(this.fd, KVM.GET_REGS, bytes));
    return decodeRegs(bytes);
  }

  setRegs(regs: Regs): void {
    check("KVM_SET_REGS", libc().ioctlPtr(this.fd, KVM.SET_REGS, encodeRegs(regs)));
  }

  getSregs(): Sregs {
    const bytes = new Uint8Array(SIZEOF.sregs);
    check("KVM_GET_SREGS", libc().ioctlPtr(this.fd, KVM.GET_SREGS, bytes));
    return decodeSregs(bytes);
  }

  setSregs(sregs: Sregs): void {
    check("KVM_SET_SREGS", libc().ioctlPtr(this.fd, KVM.SET_SREGS, encodeSregs(sregs)));
  }

  /** Sets the x87/SSE state: FCW 0x37f and MXCSR 0x1f80, the values Linux expects at entry. */
  initFpu(): void {
    const fpu = new Uint8Array(SIZEOF.fpu);
    const view = new DataView(fpu.buffer);
    view.setUint16(128, 0x37f, true); // fcw, after fpr[8][16]
    view.setUint32(408, 0x1f80, true); // mxcsr, after the 16 xmm registers
    check("KVM_SET_FPU", libc().ioctlPtr(this.fd, KVM.SET_FPU, fpu));
  }

  /** Hands the vCPU the CPUID table (from KVM_GET_SUPPORTED_CPUID). */
  setCpuid(table: Uint8Array<ArrayBuffer>): void {
    check("KVM_SET_CPUID2", libc().ioctlPtr(this.fd, KVM.SET_CPUID2, table));
  }

  /** Writes model-specific registers. */
  setMsrs(msrs: ReadonlyArray<readonly [number, bigint]>): void {
    const bytes = new Uint8Array(SIZEOF.msrsHeader + msrs.length * SIZEOF.msrEntry);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, msrs.length, true);
    msrs.forEach(([index, value], i) => {
      const at = SIZEOF.msrsHeader + i * SIZEOF.msrEntry;
      view.setUint32(at, index, true);
      view.setBigUint64(at + 8, value, true);
    });
    const written = check("KVM_SET_MSRS", libc().ioctlPtr(this.fd, KVM.SET_MSRS, bytes));
    if (written !== msrs.length) {
      throw new Error(
        `KVM_SET_MSRS set ${written} of ${msrs.length} MSRs (index ${
          msrs[written]?.[0].toString(16)
        } refused)`,
      );
    }
  }

  /** Enters the guest on the runner thread; resolves to 0, or a negative errno (EINTR: kicked). */
  enter(): Promise<number> {
    this.#runner ??= new VcpuRunner(this.fd);
    return this.#runner.enter();
  }

  /** Makes the next (or the current, once kicked) KVM_RUN return at once. */
  set immediateExit(on: boolean) {
    this.run.setUint8(RUN.immediateExit, on ? 1 : 0);
  }

  /** The exit reason of the last KVM_RUN. */
  get exitReason(): number {
    return this.run.getUint32(RUN.exitReason, true);
  }

  /** Unmaps kvm_run and closes the fd. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#runner?.close();
    const c = libc();
    c.munmap(this.#runPointer, BigInt(this.#runSize));
    c.close(this.fd);
  }
}
