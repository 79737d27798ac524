/**
 * How a VM run can fail. Every guest failure ends as a {@linkcode VmError} with a kind and one
 * clear message, never a hang or an uncaught low-level exception.
 */

/** What went wrong. */
export type VmErrorKind =
  | "triple_fault"
  | "internal_error"
  | "fail_entry"
  | "unhandled_exit"
  | "kvm_run_failed"
  | "guest_memory"
  | "guest_panic"
  | "timeout";

/** A guest run ended in an error. */
export class VmError extends Error {
  constructor(readonly kind: VmErrorKind, message: string, readonly rip?: bigint) {
    super(rip === undefined ? message : `${message} (rip 0x${rip.toString(16)})`);
    this.name = "VmError";
  }
}
