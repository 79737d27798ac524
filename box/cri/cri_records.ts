/**
 * What `box cri` remembers about its pods and containers beside their boxes: one JSON file per
 * sandbox or container under `<home>/box/cri/`, so a restarted `box cri` still knows its pods
 * (metadata, labels, annotations, log paths, the pod's network and settings).
 */
import { join } from "node:path";
import { NotFoundError } from "@a3s/common";
import type { CriLinuxPodSandboxConfig } from "./cri_security.ts";
import type { ContainerMetadata, Labels, LinuxResources, PodSandboxMetadata } from "./cri_types.ts";

/** What is kept about a pod sandbox. */
export interface SandboxRecord {
  id: string;
  /** The driver the pod runs on (its runtime handler's). */
  driver?: string;
  /** The pod's VM, shared by its containers (drivers with pods); its network is the VM's. */
  vm?: boolean;
  /** The pod uses the node's network (`hostNetwork`): no namespace or IP of its own. */
  hostNetwork?: boolean;
  /** The pod's Linux settings, for its containers (the kubelet passes them again, usually). */
  linux?: CriLinuxPodSandboxConfig | null;
  /** The pod's network namespace name; empty for VM and host-network pods. */
  netns: string;
  /** The pod network the sandbox is on (absent for sandboxes made before pods had IPs). */
  network?: string;
  /** The member name on that network (the sandbox box's name). */
  member?: string;
  ip?: string;
  /** The pod's resolv.conf, mounted into its containers; absent when the pod set no DNS. */
  resolvConf?: string;
  /** Whether host ports are forwarded into the pod (by a forwarder named after the pod). */
  publishes?: boolean;
  metadata: PodSandboxMetadata;
  hostname: string;
  logDirectory: string;
  labels: Labels;
  annotations: Labels;
  runtimeHandler: string;
  createdAt: number;
}

/** What is kept about a container. */
export interface ContainerRecord {
  id: string;
  sandboxId: string;
  metadata: ContainerMetadata;
  image: string;
  imageId: string;
  labels: Labels;
  annotations: Labels;
  logPath: string;
  mounts: { container_path: string; host_path: string; readonly: boolean }[];
  resources: LinuxResources;
  stdin?: boolean;
  stdinOnce?: boolean;
  /** The security context's `uid[:gid]`, which execs run as too. */
  user?: string;
  /** The main process runs on a terminal. */
  tty?: boolean;
  createdAt: number;
}

type Kind = "sandboxes" | "containers";

/** The record files of one `box cri` home. */
export class CriRecords {
  readonly #dir: string;

  /** Records under `dir` (`<home>/box/cri`). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Writes (or replaces) a record. */
  async save(kind: Kind, record: { id: string }): Promise<void> {
    await Deno.mkdir(join(this.#dir, kind), { recursive: true });
    await Deno.writeTextFile(join(this.#dir, kind, `${record.id}.json`), JSON.stringify(record));
  }

  /** The one record whose id starts with `id`; NotFoundError (naming `what`) otherwise. */
  async load<T>(kind: Kind, id: string, what: string): Promise<T> {
    if (!/^[a-f0-9]{1,64}$/.test(id)) throw new NotFoundError(`${what} ${id} not found`, "id");
    const all = await this.all<T & { id: string }>(kind);
    const found = all.filter((r) => r.id.startsWith(id));
    if (found.length !== 1) throw new NotFoundError(`${what} ${id} not found`, "id");
    return found[0];
  }

  /** Every record of a kind. */
  async all<T>(kind: Kind): Promise<T[]> {
    const out: T[] = [];
    try {
      for await (const entry of Deno.readDir(join(this.#dir, kind))) {
        if (!entry.name.endsWith(".json")) continue;
        const text = await Deno.readTextFile(join(this.#dir, kind, entry.name)).catch(() => "");
        if (text) out.push(JSON.parse(text) as T);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return out;
  }

  /** Forgets a record. */
  async drop(kind: Kind, id: string): Promise<void> {
    await Deno.remove(join(this.#dir, kind, `${id}.json`)).catch(() => {});
  }
}
