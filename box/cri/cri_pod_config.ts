/**
 * How a pod's CRI config becomes box settings: box names from the kubelet's metadata, a valid
 * hostname, the pod's host ports, and label selectors.
 */
import { ValidationError } from "@a3s/common";
import type { PublishedPort } from "../network/port_forwarder.ts";
import type { BoxLimits } from "../types.ts";
import type { Labels, PodSandboxConfig } from "./cri_types.ts";

/** A box name from the kubelet's metadata parts (letters, digits, `_`, `.`, `-`). */
export function safeName(...parts: (string | number)[]): string {
  return parts.join("_").replace(/[^a-zA-Z0-9_.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 128);
}

/** Whether `labels` satisfy a CRI label selector (every pair present). */
export function matches(labels: Labels, selector: Labels | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/**
 * A valid hostname from the one asked for (or the pod's name): Linux takes at most 64 bytes, and
 * the kubelet's own rule is a DNS label of at most 63, so longer names are cut and odd
 * characters replaced.
 */
export function podHostname(name: string): string {
  const label = name.replace(/[^a-zA-Z0-9.-]/g, "-").slice(0, 63).replace(/^[-.]+|[-.]+$/g, "");
  return label || "pod";
}

/** The pod's `hostPort`s as box publishes them; TCP only (box forwards TCP). */
export function hostPorts(config: PodSandboxConfig): PublishedPort[] {
  const ports: PublishedPort[] = [];
  for (const [i, mapping] of (config.port_mappings ?? []).entries()) {
    const hostPort = Number(mapping.host_port ?? 0);
    if (hostPort === 0) continue;
    const boxPort = Number(mapping.container_port ?? 0);
    if ((mapping.protocol ?? 0) !== 0) {
      throw new ValidationError(
        `port_mappings.${i}: only TCP host ports are supported`,
        `config.port_mappings.${i}.protocol`,
      );
    }
    if (!(hostPort > 0 && hostPort < 65536 && boxPort > 0 && boxPort < 65536)) {
      throw new ValidationError(
        `port_mappings.${i}: ports must be 1-65535`,
        `config.port_mappings.${i}`,
      );
    }
    ports.push({ hostIp: mapping.host_ip || "0.0.0.0", hostPort, boxPort });
  }
  return ports;
}

/**
 * The TCP ports a pod VM forwards from its pod IP to the same port inside the VM: every
 * container port of the pod (the kubelet lists them all in `port_mappings`, a hostPort or not),
 * so probes and Services reach `podIP:containerPort` as on a namespace pod.
 */
export function podIpPorts(config: PodSandboxConfig): PublishedPort[] {
  const seen = new Set<number>();
  for (const [i, mapping] of (config.port_mappings ?? []).entries()) {
    // QEMU's user-mode forwarding here is TCP only; UDP container ports are not forwarded.
    if ((mapping.protocol ?? 0) !== 0) continue;
    const port = Number(mapping.container_port ?? 0);
    if (!(port > 0 && port < 65536)) {
      throw new ValidationError(
        `port_mappings.${i}: container_port must be 1-65535`,
        `config.port_mappings.${i}.container_port`,
      );
    }
    seen.add(port);
  }
  return [...seen].map((port) => ({ hostIp: "0.0.0.0", hostPort: port, boxPort: port }));
}

/**
 * A pod VM's size from the pod's resources: the sum of its containers' memory limits plus the
 * pod's overhead, and their CPU quota rounded up to whole vCPUs; the driver's defaults when the
 * kubelet gave none (a container without a limit leaves the sum unset).
 */
export function vmLimits(config: PodSandboxConfig): BoxLimits {
  const resources = config.linux?.resources;
  const memory = Number(resources?.memory_limit_in_bytes ?? 0);
  const overhead = Number(config.linux?.overhead?.memory_limit_in_bytes ?? 0);
  const quota = Number(resources?.cpu_quota ?? 0);
  const period = Number(resources?.cpu_period ?? 0) || 100000;
  return {
    // The guest kernel and agent need some room of their own beyond what the containers use.
    memoryBytes: memory > 0 ? Math.max(memory + overhead, 256 * 1024 * 1024) : undefined,
    cpus: quota > 0 ? Math.ceil(quota / period) : undefined,
  };
}
