/**
 * Per-vCPU CPUID: KVM_GET_SUPPORTED_CPUID describes the host, so each vCPU's copy must say which
 * CPU it is, or a multi-vCPU guest sees every CPU claim APIC ID 0. Leaf 1 carries the initial
 * APIC ID in EBX[31:24]; the extended topology leaves 0xB and 0x1F carry the x2APIC ID in EDX.
 */
import { SIZEOF } from "./abi.ts";

/** A copy of a kvm_cpuid2 table with `apicId` as the CPU's own APIC ID. */
export function cpuidForVcpu(table: Uint8Array, apicId: number): Uint8Array<ArrayBuffer> {
  const out = table.slice();
  const view = new DataView(out.buffer);
  const count = view.getUint32(0, true);
  for (let i = 0; i < count; i++) {
    const at = SIZEOF.cpuidHeader + i * SIZEOF.cpuidEntry;
    const leaf = view.getUint32(at, true);
    // kvm_cpuid_entry2: function, index, flags, eax, ebx, ecx, edx.
    if (leaf === 1) {
      const ebx = view.getUint32(at + 16, true);
      view.setUint32(at + 16, ((ebx & 0x00ffffff) | (apicId << 24)) >>> 0, true);
    } else if (leaf === 0xb || leaf === 0x1f) {
      view.setUint32(at + 24, apicId, true);
    }
  }
  return out;
}
