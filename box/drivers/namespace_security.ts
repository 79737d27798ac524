/**
 * A namespace box's security settings (`BoxSpec.security`) turned into what bubblewrap and the
 * launcher do: the capability set (Docker's default set unless told otherwise), the seccomp
 * filter (ours, none, or the user's profile), a read-only root, namespaced sysctls, and which
 * namespaces are shared with the host. Everything is checked before a box is created; what the
 * driver cannot honour is refused with the field that asked for it, never run weaker.
 */
import { ValidationError } from "@a3s/common";
import type { BoxSecurity, BoxSpec } from "../types.ts";

/** Linux capabilities by name (without `CAP_`), as `capabilities(7)` numbers them. */
export const CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
];

/** Docker's (and containerd's) default set: what a box's root holds unless told otherwise. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
];

/**
 * Sysctls a box may set: the ones the kernel keeps per network or IPC namespace, so a box changes
 * only its own (Docker's and Kubernetes' "safe and namespaced" rule).
 */
const IPC_SYSCTL =
  /^(kernel\.(shmmax|shmall|shmmni|shm_rmid_forced|msgmax|msgmnb|msgmni|sem)|fs\.mqueue\.[a-z_]+)$/;
const NET_SYSCTL = /^net\.[A-Za-z0-9_.-]+$/;

/** What the driver does for a box's security settings, resolved and checked. */
export interface ResolvedSecurity {
  /** The capabilities the box's root holds, without `CAP_`, in `CAPABILITIES` order. */
  capabilities: string[];
  /**
   * Capabilities the agent keeps only to become the box's non-root user (the kernel clears them
   * when it does, and no_new_privs keeps them from coming back); an exec as root would get them,
   * so such execs are refused.
   */
  agentOnly: string[];
  /** `default` (ours), `none`, or `profile` (the user's, compiled at create). */
  seccomp: "default" | "none" | "profile";
  /** The root is remounted read-only once every mount point in it exists. */
  readOnlyRootfs: boolean;
  /** Namespaced sysctls, as `key=value`. */
  sysctls: string[];
  /** The box shares the host's pid namespace. */
  hostPid: boolean;
  /** The box shares the host's IPC namespace. */
  hostIpc: boolean;
}

function capabilityName(raw: string, field: string): string {
  const name = raw.toUpperCase().replace(/^CAP_/, "");
  if (name !== "ALL" && !CAPABILITIES.includes(name)) {
    throw new ValidationError(`unknown capability '${raw}'`, field);
  }
  return name;
}

/** Whether a user spec names root (uid 0, or the name root) with any group. */
export function isRootUser(user: string | undefined): boolean {
  if (user === undefined || user === "") return true;
  const name = user.split(":")[0];
  return name === "root" || name === "0";
}

/**
 * The capability set: the default (or every one for `privileged`), `capDrop` removed (`ALL`
 * empties it), then `capAdd` added (`ALL` fills it): an added capability wins over a dropped
 * one, as in Docker.
 */
function capabilities(security: BoxSecurity): Set<string> {
  const caps = new Set(security.privileged ? CAPABILITIES : DEFAULT_CAPABILITIES);
  const drop = (security.capDrop ?? []).map((c, i) => capabilityName(c, `security.capDrop.${i}`));
  const add = (security.capAdd ?? []).map((c, i) => capabilityName(c, `security.capAdd.${i}`));
  for (const cap of drop) {
    if (cap === "ALL") caps.clear();
    else caps.delete(cap);
  }
  for (const cap of add) {
    if (cap === "ALL") CAPABILITIES.forEach((c) => caps.add(c));
    else caps.add(cap);
  }
  return caps;
}

function sysctls(spec: Pick<BoxSpec, "network">, security: BoxSecurity): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(security.sysctls ?? {})) {
    const field = `security.sysctls.${key}`;
    if (key.includes("..") || key.includes("/")) {
      throw new ValidationError(`sysctl '${key}' is not a sysctl name`, field);
    }
    if (typeof value !== "string" || /[\n\0]/.test(value) || value.length > 256) {
      throw new ValidationError(`sysctl ${key}: the value must be one line of text`, field);
    }
    if (NET_SYSCTL.test(key)) {
      if (spec.network === "host") {
        throw new ValidationError(
          `sysctl ${key} would change the host's network: not allowed with the host network`,
          field,
        );
      }
    } else if (IPC_SYSCTL.test(key)) {
      if (security.hostIpc) {
        throw new ValidationError(
          `sysctl ${key} would change the host's IPC settings: not allowed with the host IPC namespace`,
          field,
        );
      }
    } else {
      throw new ValidationError(
        `sysctl ${key} is not namespaced (only net.*, kernel.shm*, kernel.msg*, kernel.sem and ` +
          `fs.mqueue.* are), so a box cannot set it`,
        field,
      );
    }
    out.push(`${key}=${value}`);
  }
  return out;
}

/**
 * Resolves and checks a box's security settings. Throws a ValidationError naming the field the
 * namespace driver cannot honour.
 *
 * @example
 * ```ts
 * import { resolveNamespaceSecurity } from "@a3s/box";
 * const resolved = resolveNamespaceSecurity({
 *   id: "b1", rootfs: "/r", stateDir: "/s", command: ["sh"], env: {}, volumes: [], limits: {},
 *   network: "none", security: { capDrop: ["ALL"], capAdd: ["NET_BIND_SERVICE"] },
 * });
 * console.log(resolved.capabilities); // ["NET_BIND_SERVICE"]
 * ```
 */
export function resolveNamespaceSecurity(
  spec: Pick<BoxSpec, "security" | "user" | "network">,
): ResolvedSecurity {
  const security = spec.security ?? {};
  const caps = capabilities(security);
  const agentOnly: string[] = [];
  if (!isRootUser(spec.user)) {
    for (const cap of ["SETUID", "SETGID"]) {
      if (!caps.has(cap)) agentOnly.push(cap);
    }
  }
  const seccomp = security.seccomp?.kind === "profile"
    ? "profile"
    : security.seccomp?.kind === "unconfined" || security.privileged
    ? "none"
    : "default";
  return {
    capabilities: CAPABILITIES.filter((c) => caps.has(c) || agentOnly.includes(c)),
    agentOnly,
    seccomp,
    readOnlyRootfs: security.readOnlyRootfs === true,
    sysctls: sysctls(spec, security),
    hostPid: security.hostPid === true,
    hostIpc: security.hostIpc === true,
  };
}

/** bubblewrap's capability arguments: nothing but the resolved set. */
export function capabilityArgs(resolved: ResolvedSecurity): string[] {
  const args = ["--cap-drop", "ALL"];
  for (const cap of resolved.capabilities) args.push("--cap-add", `CAP_${cap}`);
  return args;
}
