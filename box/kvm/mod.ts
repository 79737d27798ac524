/**
 * The kvm VMM: KVM driven from TypeScript through Deno FFI, with no QEMU. Guest RAM, vCPUs on
 * runner threads, a 16550 console, an i8042 reset, a virtio-mmio frame port with validated split
 * virtqueues, real/protected/long mode setup, the bzImage and PVH boot protocols, ACPI tables,
 * the startup probe, the `kvm` box driver (a VMM process per box), and the TEE side: detection,
 * SEV-SNP and TDX attestation, RA-TLS certificates, sealing and secret injection.
 *
 * @example
 * ```ts
 * import { enterRealMode, Machine } from "./mod.ts";
 * const machine = Machine.create({ memoryBytes: 2 * 1024 * 1024 });
 * machine.vm.memory.write(0x1000, Uint8Array.of(0xba, 0xf8, 0x03, 0xb0, 0x21, 0xee, 0xf4));
 * enterRealMode(machine.vm.vcpus[0], 0x1000);
 * await machine.run({ timeoutMs: 5000 });
 * console.log(machine.consoleText); // "!"
 * machine.close();
 * ```
 * @module
 */
export { Vm, type VmOptions, type VmRunResult, type VmStopReason } from "./vm.ts";
export { VmError, type VmErrorKind } from "./errors.ts";
export { GuestMemory, GuestMemoryError, MAX_MEMORY_BYTES } from "./memory.ts";
export { Vcpu } from "./vcpu.ts";
export { DeviceBus, type MmioDevice, type PioDevice } from "./bus.ts";
export { FRAME_PORT, FRAME_PORT_CMDLINE, Machine, type MachineOptions } from "./machine.ts";
export { COM1, Serial16550 } from "./devices/serial.ts";
export { I8042 } from "./devices/i8042.ts";
export { type VirtioBackend, VirtioMmio } from "./devices/virtio_mmio.ts";
export { type DescriptorChain, Virtqueue, VirtqueueError } from "./devices/virtqueue.ts";
export { FramePort } from "./devices/frame_port.ts";
export { enterLongMode, enterProtectedMode, enterRealMode, LAYOUT } from "./boot/modes.ts";
export {
  BootImageError,
  type LinuxBootPlan,
  loadBzImage,
  parseSetupHeader,
  type SetupHeader,
} from "./boot/bzimage.ts";
export { BASE_CMDLINE, prepareLinuxBoot } from "./boot/linux.ts";
export { type ElfImage, type ElfNote, type ElfSegment, parseElf } from "./boot/elf.ts";
export {
  enterPvh,
  HVM_START_MAGIC,
  loadPvhKernel,
  PVH_LAYOUT,
  type PvhBootPlan,
  pvhEntry,
  type PvhOptions,
  XEN_ELFNOTE_PHYS32_ENTRY,
} from "./boot/pvh.ts";
export {
  ACPI_BASE,
  type AcpiMachine,
  type AcpiTables,
  type AcpiVirtioDevice,
  writeAcpiTables,
} from "./boot/acpi.ts";
export { cpuidForVcpu } from "./cpuid.ts";
export { type KvmProbe, probeKvm } from "./probe.ts";
export { KvmDriver, type KvmDriverOptions, type KvmGuestProgram } from "./driver.ts";
export { type VmmBoot, type VmmConfig } from "./vmm_process.ts";
export { detectTee, type TeeDetection } from "./tee/detect.ts";
export {
  AttestationError,
  parseSnpReport,
  SNP_REPORT_SIZE,
  type SnpReport,
  type SnpTcb,
  verifySnpAttestation,
  verifySnpChain,
  verifySnpReportSignature,
} from "./tee/snp.ts";
export { seal, SealError, unseal } from "./tee/seal.ts";
export {
  INTEL_SGX_ROOT_CA_SHA256,
  parseTdxQuote,
  type TdxQuote,
  verifyTdxQuote,
} from "./tee/tdx.ts";
export {
  attest,
  type AttestationResult,
  type AttestOptions,
  collectEvidence,
  noTeeReason,
  parseSnpCertTable,
  SIMULATED_MESSAGE,
} from "./tee/attest.ts";
export {
  AMD_ARK_SHA256,
  decodeEvidence,
  encodeEvidence,
  type Evidence,
  SIMULATED_MEASUREMENT,
  type VerifiedEvidence,
  verifyEvidence,
  type VerifyEvidenceOptions,
} from "./tee/evidence.ts";
export {
  connectRaTls,
  type ConnectRaTlsOptions,
  createRaTlsCertificate,
  type CreateRaTlsOptions,
  RA_TLS_EVIDENCE_OID,
  type RaTlsIdentity,
  raTlsReportData,
  type RaTlsVerification,
  verifyRaTlsCertificate,
  type VerifyRaTlsOptions,
} from "./tee/ratls.ts";
export {
  type InjectedSecret,
  injectSecret,
  type InjectSecretOptions,
  SECRETS_DIR,
  type SecretTarget,
} from "./tee/secrets.ts";
