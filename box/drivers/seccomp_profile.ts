/**
 * Compiles a seccomp profile in the OCI runtime-spec / Docker JSON form (`--security-opt
 * seccomp=FILE`, Kubernetes' `Localhost` profiles) to the classic BPF program bubblewrap's
 * `--seccomp FD` loads, for x86_64.
 *
 * The program checks the architecture (anything but x86_64, the x32 ABI included, is killed: a
 * profile written for x86_64 says nothing about the numbers other ABIs use), then tries each rule's
 * system calls in order, first match wins: the number, then every argument condition of the rule;
 * a call no rule matches gets the profile's default action. Names this kernel ABI does not have
 * are skipped, as libseccomp does (Docker's own profile lists other architectures' calls).
 */
import { ValidationError } from "@a3s/common";
import type { SeccompProfile } from "../types.ts";
import { X86_64_SYSCALLS } from "./_syscalls_x86_64.ts";

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
/** The kernel refuses longer programs (BPF_MAXINSNS). */
const MAX_INSTRUCTIONS = 4096;

const RET_KILL_PROCESS = 0x80000000;
const RET_KILL_THREAD = 0x00000000;
const RET_TRAP = 0x00030000;
const RET_ERRNO = 0x00050000;
const RET_LOG = 0x7ffc0000;
const RET_ALLOW = 0x7fff0000;

const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const RET_K = 0x06;

/** Offsets in `struct seccomp_data`. */
const NR_OFFSET = 0;
const ARCH_OFFSET = 4;
const ARGS_OFFSET = 16;

/** The argument comparisons a profile may use. */
export const SECCOMP_OPERATORS = [
  "SCMP_CMP_EQ",
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_GT",
  "SCMP_CMP_GE",
  "SCMP_CMP_MASKED_EQ",
] as const;

/** A jump target: a number of instructions to skip (0 is the next one), or a label placed later. */
type Target = number | string;

interface Instruction {
  code: number;
  k: number;
  jt: Target;
  jf: Target;
}

/** A tiny assembler: instructions with forward jumps to named labels, resolved at the end. */
class Program {
  readonly #code: Instruction[] = [];
  readonly #labels = new Map<string, number>();
  #next = 0;

  label(): string {
    return `L${this.#next++}`;
  }

  place(label: string): void {
    this.#labels.set(label, this.#code.length);
  }

  load(offset: number): void {
    this.#code.push({ code: LD_W_ABS, k: offset, jt: 0, jf: 0 });
  }

  and(mask: number): void {
    this.#code.push({ code: ALU_AND_K, k: mask, jt: 0, jf: 0 });
  }

  jump(code: number, k: number, jt: Target, jf: Target): void {
    this.#code.push({ code, k, jt, jf });
  }

  ret(value: number): void {
    this.#code.push({ code: RET_K, k: value, jt: 0, jf: 0 });
  }

  get length(): number {
    return this.#code.length;
  }

  /** The program as the bytes of a `struct sock_filter` array (8 bytes each, little-endian). */
  bytes(): Uint8Array {
    const bytes = new Uint8Array(this.#code.length * 8);
    const view = new DataView(bytes.buffer);
    this.#code.forEach((ins, i) => {
      const offset = (target: Target) => {
        if (typeof target === "number") return target;
        const at = this.#labels.get(target);
        if (at === undefined || at <= i) throw new Error(`seccomp: unplaced label ${target}`);
        const distance = at - i - 1;
        // Every jump goes to the next rule at most, so this only fails on a compiler bug.
        if (distance > 255) throw new Error("seccomp: jump out of range");
        return distance;
      };
      view.setUint16(i * 8, ins.code, true);
      view.setUint8(i * 8 + 2, offset(ins.jt));
      view.setUint8(i * 8 + 3, offset(ins.jf));
      view.setUint32(i * 8 + 4, ins.k >>> 0, true);
    });
    return bytes;
  }
}

function action(name: string, errno: number | undefined, field: string): number {
  switch (name) {
    case "SCMP_ACT_ALLOW":
      return RET_ALLOW;
    case "SCMP_ACT_ERRNO": {
      const value = errno ?? EPERM;
      if (!Number.isInteger(value) || value < 0 || value > 4095) {
        throw new ValidationError(`errno ${value} is not between 0 and 4095`, field);
      }
      return RET_ERRNO | value;
    }
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return RET_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return RET_KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return RET_TRAP;
    case "SCMP_ACT_LOG":
      return RET_LOG;
    default:
      throw new ValidationError(
        `seccomp action '${name}' is not supported (use ALLOW, ERRNO, KILL, KILL_PROCESS, ` +
          `KILL_THREAD, TRAP or LOG)`,
        field,
      );
  }
}

/** A 64-bit argument value as its two 32-bit halves; negative numbers are two's complement. */
function halves(value: number, field: string): { hi: number; lo: number } {
  if (!Number.isSafeInteger(value)) {
    throw new ValidationError(`argument value ${value} is not an integer`, field);
  }
  const bits = BigInt.asUintN(64, BigInt(value));
  return { hi: Number(bits >> 32n), lo: Number(bits & 0xffffffffn) };
}

type Condition = NonNullable<NonNullable<SeccompProfile["syscalls"]>[number]["args"]>[number];

/**
 * Emits one argument condition: control falls through to the next condition when it holds and
 * jumps to `fail` when it does not. 64-bit values are compared half by half, high word first.
 */
function emitCondition(program: Program, condition: Condition, fail: string, field: string) {
  if (!Number.isInteger(condition.index) || condition.index < 0 || condition.index > 5) {
    throw new ValidationError("argument index must be 0 to 5", `${field}.index`);
  }
  const hiOffset = ARGS_OFFSET + condition.index * 8 + 4;
  const loOffset = ARGS_OFFSET + condition.index * 8;
  const value = halves(condition.value, `${field}.value`);
  const pass = program.label();
  switch (condition.op) {
    case "SCMP_CMP_EQ":
      program.load(hiOffset);
      program.jump(JEQ_K, value.hi, 0, fail);
      program.load(loOffset);
      program.jump(JEQ_K, value.lo, 0, fail);
      break;
    case "SCMP_CMP_NE": {
      const checkLow = program.label();
      program.load(hiOffset);
      program.jump(JEQ_K, value.hi, checkLow, pass);
      program.place(checkLow);
      program.load(loOffset);
      program.jump(JEQ_K, value.lo, fail, pass);
      break;
    }
    case "SCMP_CMP_MASKED_EQ": {
      // OCI: `value` is the mask, `valueTwo` what the masked argument must equal.
      const want = halves(condition.valueTwo ?? 0, `${field}.valueTwo`);
      program.load(hiOffset);
      program.and(value.hi);
      program.jump(JEQ_K, want.hi, 0, fail);
      program.load(loOffset);
      program.and(value.lo);
      program.jump(JEQ_K, want.lo, 0, fail);
      break;
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE": {
      // A higher high word decides it; an equal one leaves it to the low word.
      program.load(hiOffset);
      program.jump(JGT_K, value.hi, pass, 0);
      program.jump(JEQ_K, value.hi, 0, fail);
      program.load(loOffset);
      program.jump(condition.op === "SCMP_CMP_GT" ? JGT_K : JGE_K, value.lo, pass, fail);
      break;
    }
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE": {
      // The negations of GE and GT.
      program.load(hiOffset);
      program.jump(JGT_K, value.hi, fail, 0);
      program.jump(JEQ_K, value.hi, 0, pass);
      program.load(loOffset);
      program.jump(condition.op === "SCMP_CMP_LT" ? JGE_K : JGT_K, value.lo, fail, pass);
      break;
    }
    default:
      throw new ValidationError(
        `seccomp operator '${condition.op}' is not supported (${SECCOMP_OPERATORS.join(", ")})`,
        `${field}.op`,
      );
  }
  program.place(pass);
}

/**
 * Compiles `profile` to a BPF program (the bytes of a `struct sock_filter` array). Throws a
 * ValidationError naming the field (under `field`) that cannot be honoured.
 *
 * @example
 * ```ts
 * import { compileSeccompProfile } from "@a3s/box";
 * const bpf = compileSeccompProfile({
 *   defaultAction: "SCMP_ACT_ALLOW",
 *   syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
 * });
 * console.log(bpf.length % 8); // 0
 * ```
 */
export function compileSeccompProfile(
  profile: SeccompProfile,
  field = "security.seccomp.profile",
): Uint8Array {
  if (typeof profile !== "object" || profile === null || !profile.defaultAction) {
    throw new ValidationError("a seccomp profile needs a defaultAction", `${field}.defaultAction`);
  }
  const architectures = profile.architectures ?? [];
  if (architectures.length > 0 && !architectures.includes("SCMP_ARCH_X86_64")) {
    throw new ValidationError(
      "the seccomp profile does not cover SCMP_ARCH_X86_64, this host's architecture",
      `${field}.architectures`,
    );
  }
  const program = new Program();
  const fallback = action(
    profile.defaultAction,
    profile.defaultErrnoRet,
    `${field}.defaultAction`,
  );
  program.load(ARCH_OFFSET);
  program.jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0);
  program.ret(RET_KILL_PROCESS);
  program.load(NR_OFFSET);
  program.jump(JGE_K, X32_SYSCALL_BIT, 0, 1);
  program.ret(RET_KILL_PROCESS);
  // After an argument check the accumulator holds an argument, not the call number.
  let numberLoaded = true;
  for (const [r, rule] of (profile.syscalls ?? []).entries()) {
    const ruleField = `${field}.syscalls.${r}`;
    if (!Array.isArray(rule.names) || rule.names.length === 0) {
      throw new ValidationError("a seccomp rule needs names", `${ruleField}.names`);
    }
    const result = action(rule.action, rule.errnoRet, `${ruleField}.action`);
    for (const name of rule.names) {
      const nr = X86_64_SYSCALLS[name];
      if (nr === undefined) continue;
      const next = program.label();
      if (!numberLoaded) program.load(NR_OFFSET);
      program.jump(JEQ_K, nr, 0, next);
      for (const [a, condition] of (rule.args ?? []).entries()) {
        emitCondition(program, condition, next, `${ruleField}.args.${a}`);
      }
      program.ret(result);
      program.place(next);
      numberLoaded = !rule.args?.length;
    }
  }
  program.ret(fallback);
  if (program.length > MAX_INSTRUCTIONS) {
    throw new ValidationError(
      `the seccomp profile compiles to ${program.length} instructions; the kernel takes ${MAX_INSTRUCTIONS}`,
      field,
    );
  }
  return program.bytes();
}
