/**
 * `@a3s/box`: the sandbox runtime. Boxes run on a driver behind one interface
 * ({@linkcode BoxDriver}): the namespace driver (bubblewrap with seccomp, cgroups and an overlay
 * rootfs) and the qemu driver (a VM booting the host's kernel), with room for the kvm VMM. Images come from an OCI store with registry pull and push,
 * and a guest agent speaks the frame protocol for exec, file copy and health checks.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { openBoxRuntime } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * console.log(await boxes.info());
 * ```
 * @module
 */
/** The package name. */
export const MODULE_NAME = "@a3s/box";

export type * from "./types.ts";
export { DEFAULT_LOG_BOUND, type LogBound } from "./log_bound.ts";
export { type BoxInfo, BoxManager, type BoxState, type CreateBoxOptions } from "./manager.ts";
export type { AuditSink, BoxLifecycleEvent, LifecycleSink } from "./manager.ts";
export {
  BOX_BUS_STATES,
  BOX_EVENT_TYPES,
  type BoxEventPublisher,
  BoxLifecycleEventSchema,
  type BoxLifecyclePayload,
  publishBoxEvents,
} from "./bus_events.ts";
export type { BoxConfigInput } from "./routes.ts";
export type { ImageRow } from "./schema.ts";
export type { HistoryEntry, ImageConfig } from "./image/oci.ts";
export type { TarEntryType } from "./image/tar.ts";
export type { InstructionName } from "./builder/dockerfile.ts";
export type {
  ContainerConfig,
  ContainerMetadata,
  Labels,
  LinuxResources,
  PodSandboxConfig,
  PodSandboxMetadata,
} from "./cri/cri_runtime.ts";
export type {
  CriContainerSecurityContext,
  CriLinuxPodSandboxConfig,
  CriNamespaceOption,
  CriSandboxSecurityContext,
  CriSecurityProfile,
} from "./cri/cri_security.ts";
export { type BoxRuntimeOptions, defaultDrivers, openBoxRuntime } from "./runtime.ts";
export {
  BOX_ACCESS,
  type BoxConfig,
  BoxConfigSchema,
  boxModule,
  createBoxRoutes,
} from "./routes.ts";
export { NamespaceDriver, type NamespaceDriverOptions } from "./drivers/namespace.ts";
export type { CgroupMode } from "./drivers/cgroup.ts";
export { QemuDriver, type QemuDriverOptions } from "./drivers/qemu.ts";
export { buildSeccompFilter, DENIED_SYSCALLS } from "./drivers/seccomp.ts";
export { compileSeccompProfile, SECCOMP_OPERATORS } from "./drivers/seccomp_profile.ts";
export {
  CAPABILITIES,
  DEFAULT_CAPABILITIES,
  type ResolvedSecurity,
  resolveNamespaceSecurity,
} from "./drivers/namespace_security.ts";
export { AgentClient, AgentClosedError, type AgentLink } from "./agent/client.ts";
export type { GuestContainerRequest } from "./agent/protocol.ts";
export { buildAgent } from "./agent/build.ts";
export { ImageStore, type ImageSummary } from "./image/store.ts";
export { type Fetcher, RegistryClient, type RegistryOptions } from "./image/registry.ts";
export { formatReference, type ImageReference, parseReference } from "./image/reference.ts";
export { extractLayer, type ExtractReport } from "./image/extract.ts";
export { readTar, type TarEntry, type TarInput, writeTar } from "./image/tar.ts";
export { busyboxImage } from "./image/busybox.ts";
export {
  type BuildOptions,
  type BuildResult,
  type BuildStep,
  ImageBuilder,
} from "./builder/builder.ts";
export { type Instruction, INSTRUCTIONS, parseDockerfile } from "./builder/dockerfile.ts";
export { DockerIgnore } from "./builder/dockerignore.ts";
export { upperToLayer } from "./builder/layer_diff.ts";
export { type BoxChange, commitBox, diffBox, exportBox } from "./builder/commit.ts";
export { type VolumeInfo, VolumeStore } from "./volumes.ts";
export { type SnapshotInfo, SnapshotStore } from "./snapshots.ts";
export {
  type CriMessage,
  CriRuntime,
  type CriRuntimeOptions,
  POD_NETWORK,
} from "./cri/cri_runtime.ts";
export { CriImageService } from "./cri/cri_images.ts";
export {
  CRI_PROTO,
  type CriServer,
  loadCriServices,
  serveCri,
  type ServeCriOptions,
  type ServiceClientConstructor,
} from "./cri/server.ts";
export {
  type AttachedContainer,
  type CriAttachRequest,
  type CriExecRequest,
  type CriPortForwardRequest,
  type StreamingBackend,
  StreamingServer,
  type StreamingServerOptions,
} from "./cri/streaming_server.ts";
export { type NetworkInfo, type NetworkMember, NetworkStore } from "./network/networks.ts";
export {
  type ComposeProject,
  type ComposeService,
  parseComposeFile,
} from "./compose/compose_file.ts";
export { composeDown, composePs, composeUp } from "./compose/compose.ts";
export {
  parsePublish,
  type PublishedPort,
  publishedPorts,
  publishPorts,
  unpublishPorts,
} from "./network/port_forwarder.ts";
export {
  attest,
  type AttestationResult,
  type AttestOptions,
  connectRaTls,
  type ConnectRaTlsOptions,
  createRaTlsCertificate,
  type CreateRaTlsOptions,
  type Evidence,
  type InjectedSecret,
  injectSecret,
  type InjectSecretOptions,
  KvmDriver,
  type KvmDriverOptions,
  type KvmGuestProgram,
  type KvmProbe,
  type RaTlsIdentity,
  type RaTlsVerification,
  seal,
  SealError,
  type SecretTarget,
  type SnpReport,
  type SnpTcb,
  type TdxQuote,
  unseal,
  type VerifiedEvidence,
  verifyEvidence,
  type VerifyEvidenceOptions,
  verifyRaTlsCertificate,
  type VerifyRaTlsOptions,
} from "./kvm/mod.ts";
