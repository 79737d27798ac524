/**
 * The profile compiler, run: a classic BPF interpreter (the instructions the compiler emits)
 * executes the compiled program against system calls with 64-bit arguments, so every operator and
 * action is checked on the values that sit at its edges. Real boxes loading profiles are tested in
 * namespace_security_test.ts.
 */
import { assertEquals, assertThrows } from "@a3s/common/testing";
import { ValidationError } from "@a3s/common";
import type { SeccompProfile } from "../types.ts";
import { compileSeccompProfile } from "./seccomp_profile.ts";
import { X86_64_SYSCALLS } from "./_syscalls_x86_64.ts";

const X86_64 = 0xc000003e;
const ALLOW = 0x7fff0000;
const ERRNO = 0x00050000;

interface Call {
  nr: number;
  arch?: number;
  args?: bigint[];
}

/** Runs a program on one call's `struct seccomp_data`; returns the filter's verdict. */
function run(program: Uint8Array, call: Call): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setUint32(0, call.nr, true);
  data.setUint32(4, call.arch ?? X86_64, true);
  (call.args ?? []).forEach((arg, i) => data.setBigUint64(16 + i * 8, arg, true));
  const code = new DataView(program.buffer, program.byteOffset, program.byteLength);
  let a = 0;
  for (let pc = 0; pc < program.length / 8;) {
    const op = code.getUint16(pc * 8, true);
    const jt = code.getUint8(pc * 8 + 2);
    const jf = code.getUint8(pc * 8 + 3);
    const k = code.getUint32(pc * 8 + 4, true);
    pc++;
    switch (op) {
      case 0x20: // ld [k]
        a = data.getUint32(k, true);
        break;
      case 0x54: // and #k
        a = (a & k) >>> 0;
        break;
      case 0x15: // jeq
        pc += a === k ? jt : jf;
        break;
      case 0x25: // jgt
        pc += a > k ? jt : jf;
        break;
      case 0x35: // jge
        pc += a >= k ? jt : jf;
        break;
      case 0x06: // ret
        return k;
      default:
        throw new Error(`unknown instruction ${op.toString(16)}`);
    }
  }
  throw new Error("the program fell off its end");
}

const MKDIR = X86_64_SYSCALLS.mkdir;
const PERSONALITY = X86_64_SYSCALLS.personality;

function withArg(op: string, value: number, valueTwo?: number): SeccompProfile {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{
      names: ["personality"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: 22,
      args: [{ index: 1, value, valueTwo, op }],
    }],
  };
}

function denied(profile: SeccompProfile, arg: bigint): boolean {
  const verdict = run(compileSeccompProfile(profile), {
    nr: PERSONALITY,
    args: [0n, arg],
  });
  return verdict === (ERRNO | 22);
}

Deno.test("seccomp profile: actions, defaults and first match", () => {
  const program = compileSeccompProfile({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 38,
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: ["read", "write", "no_such_call_here"], action: "SCMP_ACT_ALLOW" },
      { names: ["mkdir"], action: "SCMP_ACT_ERRNO" },
      { names: ["rmdir"], action: "SCMP_ACT_KILL_PROCESS" },
      { names: ["unlink"], action: "SCMP_ACT_KILL" },
      { names: ["kill"], action: "SCMP_ACT_TRAP" },
      { names: ["chdir"], action: "SCMP_ACT_LOG" },
      // Never reached: mkdir matched above.
      { names: ["mkdir"], action: "SCMP_ACT_ALLOW" },
    ],
  });
  assertEquals(run(program, { nr: X86_64_SYSCALLS.read }), ALLOW);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.write }), ALLOW);
  assertEquals(run(program, { nr: MKDIR }), ERRNO | 1);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.rmdir }), 0x80000000);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.unlink }), 0);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.kill }), 0x00030000);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.chdir }), 0x7ffc0000);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.getpid }), ERRNO | 38);
  // Other ABIs are killed, whatever the profile says: its numbers are x86_64's.
  assertEquals(run(program, { nr: X86_64_SYSCALLS.read, arch: 0x40000003 }), 0x80000000);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.read | 0x40000000 }), 0x80000000);
});

Deno.test("seccomp profile: every operator on 64-bit values, high and low words", () => {
  const big = 0x1_0000_0005;
  assertEquals(denied(withArg("SCMP_CMP_EQ", big), 0x1_0000_0005n), true);
  assertEquals(denied(withArg("SCMP_CMP_EQ", big), 0x5n), false);
  assertEquals(denied(withArg("SCMP_CMP_EQ", big), 0x2_0000_0005n), false);
  assertEquals(denied(withArg("SCMP_CMP_NE", big), 0x1_0000_0005n), false);
  assertEquals(denied(withArg("SCMP_CMP_NE", big), 0x5n), true);
  assertEquals(denied(withArg("SCMP_CMP_NE", big), 0x1_0000_0006n), true);
  for (
    const [op, below, equal, above] of [
      ["SCMP_CMP_LT", true, false, false],
      ["SCMP_CMP_LE", true, true, false],
      ["SCMP_CMP_GT", false, false, true],
      ["SCMP_CMP_GE", false, true, true],
    ] as const
  ) {
    const profile = withArg(op, big);
    // Below and above in the low word and in the high word.
    assertEquals(denied(profile, 0x1_0000_0004n), below, `${op} low below`);
    assertEquals(denied(profile, 0x0_ffff_ffffn), below, `${op} high below`);
    assertEquals(denied(profile, 0x1_0000_0005n), equal, `${op} equal`);
    assertEquals(denied(profile, 0x1_0000_0006n), above, `${op} low above`);
    assertEquals(denied(profile, 0x2_0000_0000n), above, `${op} high above`);
  }
  // MASKED_EQ: (arg & value) == valueTwo, as Docker's clone rule uses it.
  const masked = withArg("SCMP_CMP_MASKED_EQ", 0x1_0000_00f0, 0x1_0000_0010);
  assertEquals(denied(masked, 0x1_ffff_ff1fn), true);
  assertEquals(denied(masked, 0x0_0000_0010n), false);
  assertEquals(denied(masked, 0x1_0000_0020n), false);
  // Negative values are two's complement, as the kernel passes -1.
  assertEquals(denied(withArg("SCMP_CMP_EQ", -1), 0xffff_ffff_ffff_ffffn), true);
  // Every condition of a rule must hold.
  const both = compileSeccompProfile({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{
      names: ["mkdir"],
      action: "SCMP_ACT_ERRNO",
      args: [{ index: 1, value: 0o700, op: "SCMP_CMP_EQ" }, {
        index: 0,
        value: 10,
        op: "SCMP_CMP_GT",
      }],
    }],
  });
  assertEquals(run(both, { nr: MKDIR, args: [11n, 0o700n] }), ERRNO | 1);
  assertEquals(run(both, { nr: MKDIR, args: [9n, 0o700n] }), ALLOW);
  assertEquals(run(both, { nr: MKDIR, args: [11n, 0o755n] }), ALLOW);
});

Deno.test("seccomp profile: what cannot be honoured is refused, naming the field", () => {
  const field = (profile: SeccompProfile) =>
    assertThrows(() => compileSeccompProfile(profile), ValidationError).field;
  assertEquals(
    field({ defaultAction: "SCMP_ACT_NOTIFY" }),
    "security.seccomp.profile.defaultAction",
  );
  assertEquals(
    field({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_AARCH64"] }),
    "security.seccomp.profile.architectures",
  );
  assertEquals(
    field({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }, {
        names: ["mkdir"],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 0, value: 1, op: "SCMP_CMP_SOMETIMES" }],
      }],
    }),
    "security.seccomp.profile.syscalls.1.args.0.op",
  );
  assertEquals(
    field({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{
        names: ["mkdir"],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }],
      }],
    }),
    "security.seccomp.profile.syscalls.0.args.0.index",
  );
  assertEquals(
    field({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }] }),
    "security.seccomp.profile.syscalls.0.names",
  );
});

Deno.test("seccomp profile: a Docker-sized profile fits the kernel's limit", () => {
  const names = Object.keys(X86_64_SYSCALLS);
  const program = compileSeccompProfile({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { names, action: "SCMP_ACT_ALLOW" },
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      },
    ],
  });
  assertEquals(program.length / 8 <= 4096, true);
  assertEquals(run(program, { nr: X86_64_SYSCALLS.setns }), ALLOW);
});
