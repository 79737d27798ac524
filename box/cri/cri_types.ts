/**
 * The CRI messages `box cri` reads, as the plain objects the protobuf loader gives (field names
 * as in the .proto, int64 fields possibly strings): what a pod sandbox and a container are
 * asked to be.
 */
import type { CriContainerSecurityContext, CriLinuxPodSandboxConfig } from "./cri_security.ts";

/** Kubernetes labels or annotations, key to value (selectors match on them). */
export type Labels = Record<string, string>;
/** Who a pod sandbox is for, as the kubelet names it. */
export interface PodSandboxMetadata {
  /** The pod's name. */
  name: string;
  /** The pod's UID. */
  uid: string;
  /** The pod's Kubernetes namespace. */
  namespace: string;
  /** How many sandboxes the kubelet made for this pod before, 0 for the first. */
  attempt: number;
}
/** Which container of the pod spec a container is. */
export interface ContainerMetadata {
  /** The container's name in the pod spec. */
  name: string;
  /** How many times the kubelet created this container before, 0 for the first. */
  attempt: number;
}
/** What `RunPodSandbox` is asked for; `metadata` with a name is required. */
export interface PodSandboxConfig {
  /** Who the sandbox is for; its parts name the sandbox box. */
  metadata?: PodSandboxMetadata;
  /** The hostname the pod's containers see; the pod's name when unset. */
  hostname?: string;
  /**
   * The directory the kubelet wants container logs in; container `log_path`s are relative to it.
   */
  log_directory?: string;
  /** Labels `ListPodSandbox` selects on. */
  labels?: Labels;
  /** Annotations, kept and reported back. */
  annotations?: Labels;
  /** The pod's resolver settings: its containers' /etc/resolv.conf. */
  dns_config?: { servers?: string[]; searches?: string[]; options?: string[] };
  /** `hostPort`s: host ports forwarded into the pod (TCP). */
  port_mappings?: {
    protocol?: number;
    container_port?: number;
    host_port?: number;
    host_ip?: string;
  }[];
  /** The pod's namespaces, privilege and sysctls. */
  linux?: CriLinuxPodSandboxConfig | null;
}
/** What `CreateContainer` is asked for; `metadata` and `image.image` are required. */
export interface ContainerConfig {
  /** Which container of the pod spec this is; its parts name the box. */
  metadata?: ContainerMetadata;
  /** The image reference or id to run; it must already be pulled. */
  image?: { image: string };
  /** Replaces the image's Entrypoint, as the pod spec's `command` does. */
  command?: string[];
  /** Replaces the image's Cmd, as the pod spec's `args` do. */
  args?: string[];
  /** The working directory; the image's when unset. */
  working_dir?: string;
  /** Environment variables, added over the image's. */
  envs?: { key: string; value: string }[];
  /** Host paths to mount into the container. */
  mounts?: { container_path: string; host_path: string; readonly: boolean }[];
  /** Labels `ListContainers` selects on. */
  labels?: Labels;
  /** Annotations, kept and reported back. */
  annotations?: Labels;
  /**
   * Where the container's output goes in CRI log format, relative to the sandbox's `log_directory`.
   */
  log_path?: string;
  /** Keep the main process's stdin open for `Attach` to write to. */
  stdin?: boolean;
  /** Close the main process's stdin when the first attached client detaches. */
  stdin_once?: boolean;
  /** The main process runs on a terminal: its output is one stream, `Attach` can resize it. */
  tty?: boolean;
  /** Linux resource limits, the user to run as and the rest of the security context. */
  linux?: {
    resources?: LinuxResources;
    security_context?: CriContainerSecurityContext | null;
  };
}
/** The resource limits a container is created with (int64 fields may come as strings). */
export interface LinuxResources {
  /** The CFS period in microseconds; 100000 when unset or 0. */
  cpu_period?: number | string;
  /** The CFS quota in microseconds per period; quota / period is the CPU limit, none when 0. */
  cpu_quota?: number | string;
  /** The memory limit in bytes; none when 0. */
  memory_limit_in_bytes?: number | string;
}
