import { assertEquals } from "@a3s/common/testing";
import { SIZEOF } from "./abi.ts";
import { cpuidForVcpu } from "./cpuid.ts";
import { Vm } from "./vm.ts";
import { kvmAvailable } from "./_test_support.ts";

function entry(table: Uint8Array, leaf: number) {
  const view = new DataView(table.buffer, table.byteOffset);
  for (let i = 0; i < view.getUint32(0, true); i++) {
    const at = SIZEOF.cpuidHeader + i * SIZEOF.cpuidEntry;
    if (view.getUint32(at, true) === leaf) {
      return { ebx: view.getUint32(at + 16, true), edx: view.getUint32(at + 24, true) };
    }
  }
  return undefined;
}

Deno.test({
  name: "cpuid: each vCPU's table names its own APIC ID; the rest is the host's",
  ignore: !kvmAvailable(),
  sanitizeResources: false,
}, () => {
  const vm = Vm.create({ memoryBytes: 1024 * 1024 });
  try {
    const host = vm.supportedCpuid();
    const third = cpuidForVcpu(host, 3);
    assertEquals(entry(third, 1)!.ebx >>> 24, 3);
    assertEquals(entry(third, 1)!.ebx & 0xffffff, entry(host, 1)!.ebx & 0xffffff);
    if (entry(host, 0xb)) assertEquals(entry(third, 0xb)!.edx, 3);
    assertEquals(entry(cpuidForVcpu(host, 0), 1)!.ebx >>> 24, 0);
    assertEquals(third.length, host.length);
  } finally {
    vm.close();
  }
});
