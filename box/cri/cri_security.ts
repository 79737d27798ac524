/**
 * A Kubernetes security context (the CRI's `LinuxContainerSecurityContext` and the pod's
 * `LinuxSandboxSecurityContext` and sysctls) as box's {@linkcode BoxSecurity}. What box cannot
 * honour is refused with the field named (UNIMPLEMENTED, or INVALID_ARGUMENT for a request the
 * CRI itself forbids) rather than run weaker than asked.
 *
 * Honoured: capabilities added and dropped, privileged, read-only rootfs, the pod's sysctls,
 * seccomp (RuntimeDefault, Unconfined, and Localhost profiles read from the node through the
 * access policy; no profile at all is Unconfined, as the CRI defines it), the node's network,
 * pid and IPC namespaces, `no_new_privs` (box always sets it).
 * Refused: a pid namespace shared by the pod's containers, TARGET namespaces, user namespaces,
 * ambient capabilities, supplemental groups, AppArmor Localhost profiles.
 * Accepted as the kubelet's defaults without effect of their own: masked and read-only paths
 * (box's boxes get their own /proc and /sys, read-only where the driver mounts them so).
 */
import { z } from "zod";
import { A3sError, type AccessPolicy, ValidationError } from "@a3s/common";
import type { BoxSecurity, SeccompProfile } from "../types.ts";

/** The CRI's NamespaceMode values. */
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;
/** The CRI's SecurityProfile.ProfileType values. */
export const ProfileType = { RuntimeDefault: 0, Unconfined: 1, Localhost: 2 } as const;

/** Which namespaces a container or pod shares (CRI `NamespaceOption`, modes as numbers). */
export interface CriNamespaceOption {
  /** POD (default) or NODE for the host's network. */
  network?: number;
  /** CONTAINER (the kubelet's default), NODE for the host's pids, POD to share the pod's. */
  pid?: number;
  /** POD (default) or NODE for the host's IPC. */
  ipc?: number;
  /** The container whose namespaces a TARGET mode joins. */
  target_id?: string;
  /** The pod's user namespace; POD mode asks for one of its own (`hostUsers: false`). */
  userns_options?: { mode?: number } | null;
}

/** A seccomp or AppArmor profile choice (CRI `SecurityProfile`). */
export interface CriSecurityProfile {
  /** RuntimeDefault (0), Unconfined (1) or Localhost (2). */
  profile_type?: number;
  /** For Localhost seccomp: the absolute path of the profile on the node. */
  localhost_ref?: string;
}

/** A container's security context (CRI `LinuxContainerSecurityContext`). */
export interface CriContainerSecurityContext {
  /** Capabilities added to and dropped from the default set. */
  capabilities?: {
    add_capabilities?: string[];
    drop_capabilities?: string[];
    add_ambient_capabilities?: string[];
  } | null;
  /** Every capability and no seccomp filter. */
  privileged?: boolean;
  /** The container's namespaces. */
  namespace_options?: CriNamespaceOption | null;
  /** The uid to run as (the image's user when unset). */
  run_as_user?: { value: number | string } | null;
  /** A user name from the image's /etc/passwd, instead of a uid. */
  run_as_username?: string;
  /** The gid to run as; needs a user too. */
  run_as_group?: { value: number | string } | null;
  /** The rootfs is read-only. */
  readonly_rootfs?: boolean;
  /** Groups added to the first process. */
  supplemental_groups?: (number | string)[];
  /** Deprecated AppArmor choice: `runtime/default`, `unconfined`, `localhost/<name>`. */
  apparmor_profile?: string;
  /** Deprecated seccomp choice: `runtime/default`, `unconfined`, `localhost/<path>`. */
  seccomp_profile_path?: string;
  /** Sets no_new_privs (box always does). */
  no_new_privs?: boolean;
  /** Paths the kubelet asks to mask. */
  masked_paths?: string[];
  /** Paths the kubelet asks to make read-only. */
  readonly_paths?: string[];
  /** The seccomp profile. */
  seccomp?: CriSecurityProfile | null;
  /** The AppArmor profile. */
  apparmor?: CriSecurityProfile | null;
}

/** A pod's security context (CRI `LinuxSandboxSecurityContext`, the fields box reads). */
export interface CriSandboxSecurityContext {
  /** The pod's namespaces (NODE network is `hostNetwork`). */
  namespace_options?: CriNamespaceOption | null;
  /** Whether the pod may run privileged containers. */
  privileged?: boolean;
}

/** The pod's Linux settings (CRI `LinuxPodSandboxConfig`, the fields box reads). */
export interface CriLinuxPodSandboxConfig {
  /** The pod's security context. */
  security_context?: CriSandboxSecurityContext | null;
  /** Namespaced sysctls set in every container of the pod. */
  sysctls?: Record<string, string>;
  /** What the pod itself costs beyond its containers (a VM's kernel and agent, say). */
  overhead?: { memory_limit_in_bytes?: number | string } | null;
  /** The sum of the pod's container limits (the kubelet sends it for pod-level sizing). */
  resources?: {
    memory_limit_in_bytes?: number | string;
    cpu_quota?: number | string;
    cpu_period?: number | string;
  } | null;
}

const SeccompProfileSchema: z.ZodType<SeccompProfile> = z.object({
  defaultAction: z.string().regex(/^SCMP_ACT_[A-Z_]+$/),
  defaultErrnoRet: z.number().int().nonnegative().optional(),
  architectures: z.array(z.string()).optional(),
  syscalls: z.array(z.object({
    names: z.array(z.string().min(1)),
    action: z.string().regex(/^SCMP_ACT_[A-Z_]+$/),
    errnoRet: z.number().int().nonnegative().optional(),
    args: z.array(z.object({
      index: z.number().int().min(0).max(5),
      value: z.number(),
      valueTwo: z.number().optional(),
      op: z.string(),
    })).optional(),
  })).optional(),
});

function unimplemented(message: string, field: string): A3sError {
  return new A3sError("unimplemented", message, { status: 501, field });
}

const MODE_NAMES = ["POD", "CONTAINER", "NODE", "TARGET"];

/** Namespaces the pod or container shares with the node. */
export interface NodeNamespaces {
  /** The host's network (the pod's `hostNetwork`). */
  network: boolean;
  /** The host's pids (`hostPID`). */
  pid: boolean;
  /** The host's IPC (`hostIPC`). */
  ipc: boolean;
}

/**
 * Which of the node's namespaces a namespace option asks for; refuses the modes box has no
 * way to give (a pid namespace shared by the pod's containers, TARGET, a user namespace). The
 * pid mode is a container's: at the sandbox's level (`pod`) it is not read, since the CRI's
 * default there is POD while the kubelet sets each container's own.
 */
export function nodeNamespaces(
  options: CriNamespaceOption | null | undefined,
  field: string,
  level: "pod" | "container" = "container",
): NodeNamespaces {
  const network = options?.network ?? NamespaceMode.POD;
  const pid = level === "pod" ? NamespaceMode.CONTAINER : options?.pid ?? NamespaceMode.CONTAINER;
  const ipc = options?.ipc ?? NamespaceMode.POD;
  if (network !== NamespaceMode.POD && network !== NamespaceMode.NODE) {
    throw unimplemented(
      `network namespace mode ${MODE_NAMES[network] ?? network} is not supported (POD or NODE)`,
      `${field}.network`,
    );
  }
  if (pid === NamespaceMode.POD || pid === NamespaceMode.TARGET) {
    throw unimplemented(
      `pid namespace mode ${MODE_NAMES[pid]}: the containers of a pod do not share pids here`,
      `${field}.pid`,
    );
  }
  if (ipc !== NamespaceMode.POD && ipc !== NamespaceMode.NODE) {
    throw unimplemented(
      `ipc namespace mode ${MODE_NAMES[ipc] ?? ipc} is not supported (POD or NODE)`,
      `${field}.ipc`,
    );
  }
  if (options?.userns_options && options.userns_options.mode !== NamespaceMode.NODE) {
    throw unimplemented(
      "pods in a user namespace of their own (hostUsers: false) are not supported",
      `${field}.userns_options`,
    );
  }
  return {
    network: network === NamespaceMode.NODE,
    pid: pid === NamespaceMode.NODE,
    ipc: ipc === NamespaceMode.NODE,
  };
}

/** A capability name as box takes it: upper case, without `CAP_`. */
function capabilityName(name: string, field: string): string {
  const bare = name.toUpperCase().replace(/^CAP_/, "");
  if (!/^[A-Z_]+$/.test(bare)) throw new ValidationError(`invalid capability '${name}'`, field);
  return bare;
}

/** A seccomp choice from the profile message, or the deprecated path form. */
async function seccompOf(
  context: CriContainerSecurityContext,
  policy: AccessPolicy,
  field: string,
): Promise<BoxSecurity["seccomp"]> {
  let type: number | undefined = context.seccomp?.profile_type;
  let ref = context.seccomp?.localhost_ref ?? "";
  let refField = `${field}.seccomp.localhost_ref`;
  if (!context.seccomp && context.seccomp_profile_path) {
    const path = context.seccomp_profile_path;
    refField = `${field}.seccomp_profile_path`;
    if (path === "runtime/default" || path === "docker/default") type = ProfileType.RuntimeDefault;
    else if (path === "unconfined") type = ProfileType.Unconfined;
    else if (path.startsWith("localhost/")) {
      type = ProfileType.Localhost;
      ref = path.slice("localhost/".length);
    } else throw new ValidationError(`unknown seccomp profile '${path}'`, refField);
  }
  // Neither field set is unconfined, as the CRI defines it (the kubelet always sets one).
  if (type === undefined) return { kind: "unconfined" };
  if (type === ProfileType.RuntimeDefault) return { kind: "default" };
  if (type === ProfileType.Unconfined) return { kind: "unconfined" };
  if (type !== ProfileType.Localhost) {
    throw new ValidationError(`unknown seccomp profile type ${type}`, `${field}.seccomp`);
  }
  if (!ref.startsWith("/")) {
    throw new ValidationError("a Localhost seccomp profile must be an absolute path", refField);
  }
  // The node's profile directory is a policy root; nothing else on the host can be named.
  const path = await policy.resolvePath(ref, refField);
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new ValidationError(`seccomp profile ${ref} is not readable JSON: ${error}`, refField);
  }
  const parsed = SeccompProfileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(
      `seccomp profile ${ref}: ${issue.path.join(".") || "profile"}: ${issue.message}`,
      refField,
    );
  }
  return { kind: "profile", profile: parsed.data };
}

/**
 * A container's {@linkcode BoxSecurity} from its security context and its pod's settings, with
 * the node namespaces it shares. `field` prefixes the fields errors name
 * (`config.linux.security_context`).
 */
export async function containerSecurity(
  context: CriContainerSecurityContext | null | undefined,
  pod: CriLinuxPodSandboxConfig | null | undefined,
  policy: AccessPolicy,
  field = "config.linux.security_context",
): Promise<{ security: BoxSecurity; namespaces: NodeNamespaces }> {
  const c = context ?? {};
  // A container without options of its own takes its pod's (whose pid mode is not a container's).
  const namespaces = c.namespace_options
    ? nodeNamespaces(c.namespace_options, `${field}.namespace_options`)
    : nodeNamespaces(
      pod?.security_context?.namespace_options,
      "sandbox_config.linux.security_context.namespace_options",
      "pod",
    );
  if (c.privileged && !pod?.security_context?.privileged) {
    throw new ValidationError(
      "a privileged container needs a privileged pod sandbox",
      `${field}.privileged`,
    );
  }
  if (c.capabilities?.add_ambient_capabilities?.length) {
    throw unimplemented(
      "ambient capabilities are not supported",
      `${field}.capabilities.add_ambient_capabilities`,
    );
  }
  if (c.supplemental_groups?.length) {
    throw unimplemented(
      "supplemental groups are not supported; the user's groups come from the image",
      `${field}.supplemental_groups`,
    );
  }
  const apparmor = c.apparmor?.profile_type === ProfileType.Localhost ||
    c.apparmor_profile?.startsWith("localhost/");
  if (apparmor) {
    throw unimplemented("AppArmor profiles are not supported", `${field}.apparmor`);
  }
  const security: BoxSecurity = {};
  const add = (c.capabilities?.add_capabilities ?? []).map((name, i) =>
    capabilityName(name, `${field}.capabilities.add_capabilities.${i}`)
  );
  const drop = (c.capabilities?.drop_capabilities ?? []).map((name, i) =>
    capabilityName(name, `${field}.capabilities.drop_capabilities.${i}`)
  );
  if (add.length) security.capAdd = add;
  if (drop.length) security.capDrop = drop;
  if (c.privileged) security.privileged = true;
  if (c.readonly_rootfs) security.readOnlyRootfs = true;
  const sysctls = pod?.sysctls ?? {};
  if (Object.keys(sysctls).length) security.sysctls = { ...sysctls };
  const seccomp = c.privileged ? undefined : await seccompOf(c, policy, field);
  if (seccomp) security.seccomp = seccomp;
  if (namespaces.pid) security.hostPid = true;
  if (namespaces.ipc) security.hostIpc = true;
  return { security, namespaces };
}
