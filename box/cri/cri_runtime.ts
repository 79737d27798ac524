/**
 * The CRI runtime behind `box cri`: Kubernetes pods and containers mapped onto boxes. On the
 * default (namespace) handler a pod sandbox is an idle box in a network namespace of its own,
 * attached to the node's pod network (a bridged box network, `k8s-pods`), which gives the pod
 * its IP; the pod's containers are boxes of their images that join that namespace (so they
 * share the pod's network and IP, as Kubernetes expects) and take the pod's hostname. On a
 * handler whose driver has pods (qemu) the sandbox is the pod's VM and its containers run inside
 * it, sharing its network. Container output is copied into the kubelet's log path in the CRI log
 * format. Records live beside the boxes (see cri_records.ts), so a restarted `box cri` still
 * knows its pods.
 *
 * Messages are the plain objects of the `runtime.v1` protobuf, field names as in the .proto.
 */
import { join } from "node:path";
import { A3sError, AccessPolicy, NotFoundError, ValidationError } from "@a3s/common";
import { readCapped } from "@a3s/common/capped-text";
import { type ContainerRecord, CriRecords, type SandboxRecord } from "./cri_records.ts";
import {
  hostPorts,
  matches,
  podHostname,
  podIpPorts,
  safeName,
  vmLimits,
} from "./cri_pod_config.ts";
import type { ContainerConfig, Labels, LinuxResources, PodSandboxConfig } from "./cri_types.ts";
import type { BoxInfo, BoxManager } from "../manager.ts";
import { canonicalImage, CriImageService } from "./cri_images.ts";
import { type CriMessage, nanos, need, unlessNotFound } from "./cri_messages.ts";
import { busyboxImage } from "../image/busybox.ts";
import type { ExecProcess, VolumeMount } from "../types.ts";
import { deleteNetns, netnsPath } from "./netns.ts";
import { CriLogWriter } from "./cri_log.ts";
import { OutputTap } from "./output_tap.ts";
import type { AttachedContainer, StreamingBackend } from "./streaming_server.ts";
import { publishPorts, unpublishPorts } from "../network/port_forwarder.ts";
import { containerSecurity, nodeNamespaces } from "./cri_security.ts";

/** Bytes of each of an `ExecSync`'s streams kept: both, with their notes, fit one message. */
const EXEC_SYNC_KEPT = 1024 * 1024;
/** The bridged box network pod sandboxes get their IPs on. */
export const POD_NETWORK = "k8s-pods";

export type { CriMessage } from "./cri_messages.ts";
export type {
  ContainerConfig,
  ContainerMetadata,
  Labels,
  LinuxResources,
  PodSandboxConfig,
  PodSandboxMetadata,
} from "./cri_types.ts";
/** The main process's stdin a container was started with, kept for `Attach`. */
interface HeldStdin {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  once: boolean;
  closed: boolean;
}

/** Options for {@linkcode CriRuntime}. */
export interface CriRuntimeOptions {
  /** The image a pod's sandbox box runs (idle); imported from busybox-static when missing. */
  sandboxImage?: string;
  /**
   * Registry mirrors, as containerd's `registry.mirrors`: images of a registry (`gcr.io`,
   * `docker.io`) are fetched from the mirror (`host:port`, `http://host:port` for plain HTTP)
   * and stored under the name the kubelet asked for. For nodes without internet.
   */
  registryMirrors?: Record<string, string>;
  /**
   * Runtime handlers (a RuntimeClass's `handler`) to box drivers; the empty handler is the
   * default. Unless set: `""`, `namespace` and `a3s-box` run on the namespace driver, `qemu`
   * and `a3s-box-vm` on qemu (each pod a VM).
   */
  runtimeHandlers?: Record<string, string>;
  /**
   * The policy host paths a request names are checked against (Localhost seccomp profiles);
   * by default only the kubelet's profile directory, `/var/lib/kubelet/seccomp`, may be read.
   */
  policy?: AccessPolicy;
}

const DEFAULT_HANDLERS: Record<string, string> = {
  "": "namespace",
  namespace: "namespace",
  // The handler of the RuntimeClass in deploy/kubernetes/box.
  "a3s-box": "namespace",
  qemu: "qemu",
  "a3s-box-vm": "qemu",
};

const STATES = { created: 0, running: 1, exited: 2 } as const;

/**
 * Pods and containers on boxes.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { CriRuntime, openBoxRuntime } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * const cri = new CriRuntime(boxes, "/tmp/a3s");
 * console.log(await cri.listPodSandbox({}));
 * ```
 */
export class CriRuntime implements StreamingBackend {
  readonly #boxes: BoxManager;
  readonly #dir: string;
  readonly #home: string;
  readonly #options: CriRuntimeOptions;
  /** Each started container's output, and its CRI log file when it has a log path. */
  readonly #outputs = new Map<string, { tap: OutputTap; writer?: CriLogWriter }>();
  readonly #stdins = new Map<string, HeldStdin>();
  readonly #policy: AccessPolicy;
  readonly #records: CriRecords;
  /** The ImageService half of the CRI. */
  readonly images: CriImageService;

  /** A runtime over `boxes`, keeping its pod and container records in `<home>/box/cri`. */
  constructor(boxes: BoxManager, home: string, options: CriRuntimeOptions = {}) {
    this.#boxes = boxes;
    this.#dir = join(home, "box", "cri");
    this.#records = new CriRecords(this.#dir);
    this.#home = home;
    this.#options = options;
    this.images = new CriImageService(boxes, options.registryMirrors);
    this.#policy = options.policy ?? new AccessPolicy({ roots: ["/var/lib/kubelet/seccomp"] });
  }

  async #box(id: string): Promise<BoxInfo | undefined> {
    return await unlessNotFound(this.#boxes.inspect(id));
  }

  async #sandboxImage(): Promise<string> {
    const ref = this.#options.sandboxImage ?? "busybox:latest";
    try {
      return (await this.#boxes.images.resolve(ref)).id;
    } catch (error) {
      if (!(error instanceof NotFoundError) || ref !== "busybox:latest") throw error;
      const { layer, config } = await busyboxImage();
      return await this.#boxes.images.createImage([layer], config, [ref]);
    }
  }

  /** `Version`: the runtime's name and versions, CRI API `v1`. */
  version(): CriMessage {
    return {
      version: "0.1.0",
      runtime_name: "a3s-box",
      runtime_version: "0.1.0",
      runtime_api_version: "v1",
    };
  }

  /** `Status`: RuntimeReady and NetworkReady, both true when the namespace driver is available. */
  async status(): Promise<CriMessage> {
    const drivers = await this.#boxes.info();
    const namespace = drivers.find((d) => d.name === "namespace");
    const ready = namespace?.available === true;
    return {
      status: {
        conditions: [
          {
            type: "RuntimeReady",
            status: ready,
            reason: ready ? "" : "DriverUnavailable",
            message: ready ? "" : namespace?.detail ?? "",
          },
          { type: "NetworkReady", status: ready, reason: "", message: "" },
        ],
      },
      info: {},
    };
  }

  /**
   * `RunPodSandbox`: the pod's sandbox box on its runtime handler's driver; returns its id. On a
   * driver with pods (qemu) the sandbox is the pod's VM, which its containers join; otherwise it
   * idles in a network namespace of its own on the pod network, which its containers join.
   */
  async runPodSandbox(
    request: { config?: PodSandboxConfig; runtime_handler?: string },
  ): Promise<CriMessage> {
    const config = need(request.config, "config");
    const metadata = need(config.metadata, "config.metadata");
    need(metadata.name, "config.metadata.name");
    const handler = request.runtime_handler ?? "";
    const driver = (this.#options.runtimeHandlers ?? DEFAULT_HANDLERS)[handler];
    if (!driver) {
      throw new ValidationError(`unknown runtime handler '${handler}'`, "runtime_handler");
    }
    const namespaces = nodeNamespaces(
      config.linux?.security_context?.namespace_options,
      "config.linux.security_context.namespace_options",
      "pod",
    );
    const probe = (await this.#boxes.info()).find((d) => d.name === driver);
    const vm = probe?.features.pods === true;
    if (vm && (namespaces.network || namespaces.pid || namespaces.ipc)) {
      throw new A3sError(
        "unimplemented",
        `a pod on ${driver} has its own VM: it cannot share the node's namespaces`,
        { status: 501, field: "config.linux.security_context.namespace_options" },
      );
    }
    const name = safeName(
      "k8s_POD",
      metadata.name,
      metadata.namespace,
      metadata.uid,
      metadata.attempt,
    );
    const ports = hostPorts(config);
    const hostname = podHostname(config.hostname || metadata.name);
    // A VM pod gets its pod IP the same way: its VM runs in the pod's network namespace.
    const own = !namespaces.network;
    const member = own ? await this.#joinPodNetwork(name) : undefined;
    let boxId: string | undefined;
    try {
      const { info } = await this.#boxes.run({
        image: await this.#sandboxImage(),
        idle: true,
        name,
        hostname,
        driver,
        ...(vm && member
          ? {
            podSandbox: true,
            netns: netnsPath(member.netns),
            publish: podIpPorts(config),
            limits: vmLimits(config),
          }
          : member
          ? { netns: netnsPath(member.netns) }
          : { network: "host" as const }),
      });
      boxId = info.id;
      if (member && ports.length > 0) {
        await publishPorts(this.#home, `pod-${info.id}`, netnsPath(member.netns), ports);
      }
      const record: SandboxRecord = {
        id: info.id,
        driver,
        vm,
        hostNetwork: namespaces.network,
        linux: config.linux ?? undefined,
        netns: member?.netns ?? "",
        network: member ? POD_NETWORK : undefined,
        member: member ? name : undefined,
        ip: member?.ip,
        resolvConf: await this.#writeResolvConf(info.id, config),
        publishes: member !== undefined && ports.length > 0,
        metadata,
        hostname,
        logDirectory: config.log_directory ?? "",
        labels: config.labels ?? {},
        annotations: config.annotations ?? {},
        runtimeHandler: handler,
        createdAt: info.createdAt,
      };
      await this.#records.save("sandboxes", record);
      return { pod_sandbox_id: info.id };
    } catch (error) {
      if (boxId) await this.#boxes.remove(boxId, true).catch(() => {});
      if (member) await this.#boxes.networks.detach(POD_NETWORK, name).catch(() => {});
      throw error;
    }
  }

  /** Writes the pod's resolv.conf from its DNS config; `undefined` when it has none. */
  async #writeResolvConf(id: string, config: PodSandboxConfig): Promise<string | undefined> {
    const dns = config.dns_config;
    const lines = [
      ...(dns?.servers ?? []).map((server) => `nameserver ${server}`),
      ...(dns?.searches?.length ? [`search ${dns.searches.join(" ")}`] : []),
      ...(dns?.options?.length ? [`options ${dns.options.join(" ")}`] : []),
    ];
    if (lines.length === 0) return undefined;
    if (lines.some((line) => /[\r\n]/.test(line))) {
      throw new ValidationError("dns_config values must be single lines", "config.dns_config");
    }
    const dir = join(this.#dir, "pods", id);
    await Deno.mkdir(dir, { recursive: true });
    const path = join(dir, "resolv.conf");
    await Deno.writeTextFile(path, `${lines.join("\n")}\n`);
    return path;
  }

  /** Attaches a new pod to the pod network, creating the network on first use. */
  async #joinPodNetwork(name: string) {
    const networks = this.#boxes.networks;
    await networks.inspect(POD_NETWORK).catch(async (error) => {
      if (!(error instanceof NotFoundError)) throw error;
      // Two pods starting at once may both find no network; the loser uses the winner's.
      // The kubelet probes pods from the host (HTTP and TCP checks go to the pod IP).
      await networks.create(POD_NETWORK, { hostAccess: true }).catch((created) => {
        if ((created as A3sError).code !== "network_exists") throw created;
      });
    });
    return await networks.attach(POD_NETWORK, name);
  }

  /** Takes a pod off its network (its namespace, and so its IP, go with it). */
  async #leaveNetwork(sandbox: SandboxRecord): Promise<void> {
    if (sandbox.publishes) await unpublishPorts(this.#home, `pod-${sandbox.id}`);
    if (sandbox.network && sandbox.member) {
      await unlessNotFound(this.#boxes.networks.detach(sandbox.network, sandbox.member));
    } else if (sandbox.netns) {
      await deleteNetns(sandbox.netns);
    }
  }

  async #containersOf(sandboxId: string): Promise<ContainerRecord[]> {
    return (await this.#records.all<ContainerRecord>("containers")).filter((c) =>
      c.sandboxId === sandboxId
    );
  }

  /**
   * `StopPodSandbox`: stops the pod's containers and sandbox box and deletes its network namespace;
   * an unknown sandbox is not an error.
   */
  async stopPodSandbox(request: { pod_sandbox_id: string }): Promise<CriMessage> {
    const sandbox = await unlessNotFound(this.#records.load<SandboxRecord>(
      "sandboxes",
      request.pod_sandbox_id,
      "pod sandbox",
    ));
    if (!sandbox) return {};
    for (const container of await this.#containersOf(sandbox.id)) {
      if ((await this.#box(container.id))?.state === "running") {
        await this.#boxes.stop(container.id, 0);
      }
    }
    if ((await this.#box(sandbox.id))?.state === "running") await this.#boxes.stop(sandbox.id, 0);
    await this.#leaveNetwork(sandbox);
    return {};
  }

  /**
   * `RemovePodSandbox`: removes the pod's containers, its sandbox box and records; an unknown
   * sandbox is not an error.
   */
  async removePodSandbox(request: { pod_sandbox_id: string }): Promise<CriMessage> {
    const sandbox = await unlessNotFound(this.#records.load<SandboxRecord>(
      "sandboxes",
      request.pod_sandbox_id,
      "pod sandbox",
    ));
    if (!sandbox) return {};
    for (const container of await this.#containersOf(sandbox.id)) {
      await this.removeContainer({ container_id: container.id });
    }
    if (await this.#box(sandbox.id)) await this.#boxes.remove(sandbox.id, true);
    await this.#leaveNetwork(sandbox);
    await this.#records.drop("sandboxes", sandbox.id);
    await Deno.remove(join(this.#dir, "pods", sandbox.id), { recursive: true }).catch(() => {});
    return {};
  }

  async #sandboxState(sandbox: SandboxRecord): Promise<number> {
    return (await this.#box(sandbox.id))?.state === "running" ? 0 : 1;
  }

  /** The pod's IP while it is on the pod network (a stopped pod has left it). */
  async #podIp(sandbox: SandboxRecord): Promise<string> {
    if (!sandbox.network || !sandbox.member) return "";
    const network = await unlessNotFound(this.#boxes.networks.inspect(sandbox.network));
    return network?.members.find((m) => m.name === sandbox.member)?.ip ?? "";
  }

  /** `PodSandboxStatus`: the sandbox's state, metadata and netns, with its containers' statuses. */
  async podSandboxStatus(request: { pod_sandbox_id: string }): Promise<CriMessage> {
    const sandbox = await this.#records.load<SandboxRecord>(
      "sandboxes",
      request.pod_sandbox_id,
      "pod sandbox",
    );
    const containers = [];
    for (const container of await this.#containersOf(sandbox.id)) {
      containers.push(await this.#containerStatus(container));
    }
    return {
      status: {
        id: sandbox.id,
        metadata: sandbox.metadata,
        state: await this.#sandboxState(sandbox),
        created_at: nanos(sandbox.createdAt),
        network: { ip: await this.#podIp(sandbox), additional_ips: [] },
        labels: sandbox.labels,
        annotations: sandbox.annotations,
        runtime_handler: sandbox.runtimeHandler,
      },
      info: sandbox.netns ? { netns: netnsPath(sandbox.netns) } : {},
      containers_statuses: containers,
      timestamp: nanos(Date.now()),
    };
  }

  /** `ListPodSandbox`: the sandboxes matching the filter's id prefix, state and label selector. */
  async listPodSandbox(request: {
    filter?: { id?: string; state?: { state: number }; label_selector?: Labels };
  }): Promise<{ items: (CriMessage & { id: string })[] }> {
    const filter = request.filter;
    const items = [];
    for (const sandbox of await this.#records.all<SandboxRecord>("sandboxes")) {
      if (filter?.id && !sandbox.id.startsWith(filter.id)) continue;
      if (!matches(sandbox.labels, filter?.label_selector)) continue;
      const state = await this.#sandboxState(sandbox);
      if (filter?.state && filter.state.state !== state) continue;
      items.push({
        id: sandbox.id,
        metadata: sandbox.metadata,
        state,
        created_at: nanos(sandbox.createdAt),
        labels: sandbox.labels,
        annotations: sandbox.annotations,
        runtime_handler: sandbox.runtimeHandler,
      });
    }
    return { items };
  }

  /**
   * `CreateContainer`: a box of the container's image in the pod's namespace, not started; returns
   * its id.
   */
  async createContainer(request: {
    pod_sandbox_id: string;
    config?: ContainerConfig;
    sandbox_config?: PodSandboxConfig;
  }): Promise<CriMessage> {
    const sandbox = await this.#records.load<SandboxRecord>(
      "sandboxes",
      request.pod_sandbox_id,
      "pod sandbox",
    );
    const config = need(request.config, "config");
    const metadata = need(config.metadata, "config.metadata");
    const image = need(config.image?.image, "config.image.image");
    const imageRow = await this.#boxes.images.resolve(canonicalImage(image), "config.image.image");
    const user = await this.#runAs(imageRow.id, config.linux?.security_context ?? undefined);
    const { security, namespaces } = await containerSecurity(
      config.linux?.security_context,
      request.sandbox_config?.linux ?? sandbox.linux,
      this.#policy,
    );
    // In a pod's VM the VM is the boundary: no seccomp filter runs inside it, which is what
    // Unconfined asks for and what a VM runtime's default is (as Kata's); a profile is refused.
    if (sandbox.vm && security.seccomp && security.seccomp.kind !== "profile") {
      delete security.seccomp;
    }
    if (namespaces.network !== (sandbox.hostNetwork === true)) {
      throw new ValidationError(
        "a container shares its pod's network: the node's only when the pod does",
        "config.linux.security_context.namespace_options.network",
      );
    }
    const resources = config.linux?.resources ?? {};
    const memory = Number(resources.memory_limit_in_bytes ?? 0);
    const quota = Number(resources.cpu_quota ?? 0);
    const period = Number(resources.cpu_period ?? 0) || 100000;
    const volumes: VolumeMount[] = (config.mounts ?? []).map((m) => ({
      host: m.host_path,
      guest: m.container_path,
      readOnly: m.readonly,
    }));
    // The pod's resolver, unless the pod spec mounts its own.
    if (sandbox.resolvConf && !volumes.some((v) => v.guest === "/etc/resolv.conf")) {
      volumes.push({ host: sandbox.resolvConf, guest: "/etc/resolv.conf", readOnly: true });
    }
    const info = await this.#boxes.create({
      image: imageRow.id,
      // Kubernetes' command replaces the image's entrypoint and drops its Cmd; args replace
      // the Cmd. A given command is passed whole (with an empty entrypoint), since an empty box
      // command means "the image's Cmd".
      ...(config.command?.length
        ? { entrypoint: [], command: [...config.command, ...(config.args ?? [])] }
        : { command: config.args?.length ? config.args : undefined }),
      env: Object.fromEntries((config.envs ?? []).map((e) => [e.key, e.value])),
      workdir: config.working_dir || undefined,
      volumes,
      interactive: config.stdin === true,
      tty: config.tty === true,
      security: Object.keys(security).length ? security : undefined,
      user,
      limits: {
        memoryBytes: memory > 0 ? memory : undefined,
        cpus: quota > 0 ? quota / period : undefined,
      },
      hostname: sandbox.hostname,
      // Inside the pod's VM, in its network namespace, or on the node's network.
      ...(sandbox.vm
        ? { pod: sandbox.id }
        : sandbox.netns
        ? { netns: netnsPath(sandbox.netns), driver: sandbox.driver ?? "namespace" }
        : { network: "host" as const, driver: sandbox.driver ?? "namespace" }),
      name: safeName(
        "k8s",
        metadata.name,
        sandbox.metadata.name,
        sandbox.metadata.namespace,
        sandbox.metadata.uid,
        metadata.attempt ?? 0,
      ),
    });
    const record: ContainerRecord = {
      id: info.id,
      sandboxId: sandbox.id,
      metadata,
      image,
      imageId: imageRow.id,
      labels: config.labels ?? {},
      annotations: config.annotations ?? {},
      logPath: config.log_path && sandbox.logDirectory
        ? join(sandbox.logDirectory, config.log_path)
        : "",
      mounts: config.mounts ?? [],
      resources,
      stdin: config.stdin === true,
      stdinOnce: config.stdin_once === true,
      user,
      tty: config.tty === true,
      createdAt: info.createdAt,
    };
    await this.#records.save("containers", record);
    return { container_id: info.id };
  }

  /**
   * The `uid[:gid]` a security context asks for, user names looked up in the image's
   * /etc/passwd; `undefined` for the image's own user.
   */
  async #runAs(
    imageId: string,
    context: NonNullable<ContainerConfig["linux"]>["security_context"],
  ): Promise<string | undefined> {
    const group = context?.run_as_group ? String(context.run_as_group.value) : undefined;
    let uid = context?.run_as_user ? String(context.run_as_user.value) : undefined;
    if (!uid && context?.run_as_username) {
      const passwd = await Deno.readTextFile(
        join(await this.#boxes.images.rootfs(imageId), "etc", "passwd"),
      ).catch(() => "");
      const entry = passwd.split("\n").map((line) => line.split(":"))
        .find((fields) => fields[0] === context.run_as_username);
      if (!entry) {
        throw new ValidationError(
          `user ${context.run_as_username} is not in the image's /etc/passwd`,
          "config.linux.security_context.run_as_username",
        );
      }
      uid = entry[2];
    }
    if (group !== undefined && uid === undefined) {
      throw new ValidationError(
        "run_as_group needs run_as_user or run_as_username",
        "config.linux.security_context.run_as_group",
      );
    }
    if (uid !== undefined && !/^\d+$/.test(uid)) {
      throw new ValidationError(
        `invalid uid '${uid}'`,
        "config.linux.security_context.run_as_user",
      );
    }
    return uid === undefined ? undefined : group === undefined ? uid : `${uid}:${group}`;
  }

  /** `StartContainer`: starts the box and copies its output into the container's log path. */
  async startContainer(request: { container_id: string }): Promise<CriMessage> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    );
    const { stdin } = await this.#boxes.start(container.id);
    if (stdin) {
      this.#stdins.set(container.id, {
        writer: stdin.getWriter(),
        once: container.stdinOnce === true,
        closed: false,
      });
    }
    const writer = container.logPath ? new CriLogWriter(container.logPath) : undefined;
    await writer?.open();
    const tap = new OutputTap(
      (signal) => this.#boxes.logs(container.id, { follow: true, signal }),
      writer ? (chunk) => writer.write(chunk.stream, chunk.data) : undefined,
    );
    this.#outputs.set(container.id, { tap, writer });
    tap.done.finally(() => {
      writer?.close();
      if (this.#outputs.get(container.id)?.tap === tap) this.#outputs.delete(container.id);
    });
    return {};
  }

  /**
   * `StopContainer`: stops the box, killing it after `timeout` seconds; an unknown container is not
   * an error.
   */
  async stopContainer(
    request: { container_id: string; timeout?: number | string },
  ): Promise<CriMessage> {
    const container = await unlessNotFound(this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    ));
    if (!container) return {};
    if ((await this.#box(container.id))?.state === "running") {
      await this.#boxes.stop(container.id, Number(request.timeout ?? 0));
    }
    return {};
  }

  /**
   * `RemoveContainer`: stops its log copy, removes the box and the record; an unknown container is
   * not an error.
   */
  async removeContainer(request: { container_id: string }): Promise<CriMessage> {
    const container = await unlessNotFound(this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    ));
    if (!container) return {};
    this.#outputs.get(container.id)?.tap.stop();
    await this.#releaseStdin(container.id);
    if (await this.#box(container.id)) await this.#boxes.remove(container.id, true);
    await this.#records.drop("containers", container.id);
    return {};
  }

  async #containerStatus(container: ContainerRecord) {
    const box = await this.#box(container.id);
    if (box?.state === "exited") {
      // An exited container's log is complete before anyone is told it exited, as with
      // containerd: the kubelet and `kubectl logs` read it right away. Bounded, so a stuck
      // copy cannot hold a status call.
      const output = this.#outputs.get(container.id);
      if (output) await Promise.race([output.tap.done, new Promise((r) => setTimeout(r, 2000))]);
    }
    const state = box ? STATES[box.state] : 3;
    let reason = "";
    if (box?.state === "exited") {
      reason = box.reason === "oom" ? "OOMKilled" : box.exitCode === 0 ? "Completed" : "Error";
    }
    return {
      id: container.id,
      metadata: container.metadata,
      state,
      created_at: nanos(container.createdAt),
      started_at: nanos(box?.startedAt),
      finished_at: nanos(box?.state === "exited" ? box.finishedAt : 0),
      exit_code: box?.exitCode ?? 0,
      image: { image: container.image },
      image_ref: container.imageId,
      image_id: container.imageId,
      reason,
      message: box?.reason && box.reason !== "exited" ? box.reason : "",
      labels: container.labels,
      annotations: container.annotations,
      mounts: container.mounts,
      log_path: container.logPath,
      resources: { linux: container.resources },
    };
  }

  /** `ContainerStatus`: state, times, exit code and reason (`Completed`, `Error`, `OOMKilled`). */
  async containerStatus(request: { container_id: string }): Promise<CriMessage> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    );
    return { status: await this.#containerStatus(container), info: {} };
  }

  /**
   * `ListContainers`: the containers matching the filter's id and sandbox id prefixes, state and
   * label selector.
   */
  async listContainers(request: {
    filter?: {
      id?: string;
      state?: { state: number };
      pod_sandbox_id?: string;
      label_selector?: Labels;
    };
  }): Promise<CriMessage> {
    const filter = request.filter;
    const containers = [];
    for (const container of await this.#records.all<ContainerRecord>("containers")) {
      if (filter?.id && !container.id.startsWith(filter.id)) continue;
      if (filter?.pod_sandbox_id && !container.sandboxId.startsWith(filter.pod_sandbox_id)) {
        continue;
      }
      if (!matches(container.labels, filter?.label_selector)) continue;
      const status = await this.#containerStatus(container);
      if (filter?.state && filter.state.state !== status.state) continue;
      containers.push({
        id: container.id,
        pod_sandbox_id: container.sandboxId,
        metadata: container.metadata,
        image: status.image,
        image_ref: container.imageId,
        image_id: container.imageId,
        state: status.state,
        created_at: status.created_at,
        labels: container.labels,
        annotations: container.annotations,
      });
    }
    return { containers };
  }

  /**
   * `ExecSync`: runs a command in the container and collects its output; killed and
   * DEADLINE_EXCEEDED after `timeout` seconds.
   */
  async execSync(
    request: { container_id: string; cmd: string[]; timeout?: number | string },
  ): Promise<CriMessage> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    );
    if (!request.cmd?.length) throw new ValidationError("cmd is required", "cmd");
    // Commands run as the container's user, as the kubelet's probes and `kubectl exec` expect.
    const process = await this.#boxes.exec(container.id, {
      command: request.cmd,
      user: container.user,
    });
    await process.stdin.close().catch(() => {});
    // Bounded, as box's own exec answer: a command may print without end, and both streams
    // must fit one gRPC message (4 MiB by default, as grpc-js and Go clients set it).
    const collected = Promise.all([
      readCapped(process.stdout, EXEC_SYNC_KEPT).then((held) => held.bytes()),
      readCapped(process.stderr, EXEC_SYNC_KEPT).then((held) => held.bytes()),
      process.status,
    ]);
    // When the deadline wins, this one settles later (often rejected, as the killed command's
    // agent connection closes); nobody awaits it then, and an unhandled rejection would take
    // the whole CRI server down.
    collected.catch(() => {});
    const seconds = Number(request.timeout ?? 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = seconds > 0
      ? new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          process.kill(9).catch(() => {});
          reject(
            new A3sError("deadline_exceeded", `command timed out after ${seconds}s`, {
              status: 504,
            }),
          );
        }, seconds * 1000);
      })
      : undefined;
    try {
      const [stdout, stderr, status] =
        await (timeout ? Promise.race([collected, timeout]) : collected);
      return { stdout, stderr, exit_code: status.exitCode };
    } finally {
      clearTimeout(timer);
    }
  }

  async #stats(container: ContainerRecord) {
    const stats = (await this.#box(container.id))?.state === "running"
      ? await this.#boxes.stats(container.id)
      : undefined;
    const now = nanos(Date.now());
    return {
      attributes: {
        id: container.id,
        metadata: container.metadata,
        labels: container.labels,
        annotations: container.annotations,
      },
      cpu: {
        timestamp: now,
        usage_core_nano_seconds: { value: String(Math.round((stats?.cpuSeconds ?? 0) * 1e9)) },
      },
      memory: {
        timestamp: now,
        working_set_bytes: { value: String(stats?.memoryBytes ?? 0) },
        usage_bytes: { value: String(stats?.memoryBytes ?? 0) },
      },
    };
  }

  /** `ContainerStats`: the container's CPU time and memory use now. */
  async containerStats(request: { container_id: string }): Promise<CriMessage> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    );
    return { stats: await this.#stats(container) };
  }

  /** `ListContainerStats`: stats of the running containers matching the filter. */
  async listContainerStats(request: {
    filter?: { id?: string; pod_sandbox_id?: string; label_selector?: Labels };
  }): Promise<CriMessage> {
    const filter = request.filter;
    const stats = [];
    for (const container of await this.#records.all<ContainerRecord>("containers")) {
      if (filter?.id && !container.id.startsWith(filter.id)) continue;
      if (filter?.pod_sandbox_id && !container.sandboxId.startsWith(filter.pod_sandbox_id)) {
        continue;
      }
      if (!matches(container.labels, filter?.label_selector)) continue;
      if ((await this.#box(container.id))?.state !== "running") continue;
      stats.push(await this.#stats(container));
    }
    return { stats };
  }

  /**
   * `ReopenContainerLog`: reopens the log file after the kubelet rotated it; the container must run
   * here.
   */
  /** CRI UpdateContainerResources: memory and CPU quota of a running container, live. */
  async updateContainerResources(
    request: { container_id: string; linux?: LinuxResources },
  ): Promise<CriMessage> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    );
    const resources = request.linux ?? {};
    const memory = Number(resources.memory_limit_in_bytes ?? 0);
    const quota = Number(resources.cpu_quota ?? 0);
    const period = Number(resources.cpu_period ?? 0) || 100000;
    await this.#boxes.update(container.id, {
      memoryBytes: memory > 0 ? memory : undefined,
      cpus: quota > 0 ? quota / period : undefined,
    });
    container.resources = { ...container.resources, ...resources };
    await this.#records.save("containers", container);
    return {};
  }

  /**
   * `ReopenContainerLog`: reopens the log file after the kubelet rotated it; the container must
   * run here.
   */
  async reopenContainerLog(request: { container_id: string }): Promise<CriMessage> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      request.container_id,
      "container",
    );
    const log = this.#outputs.get(container.id)?.writer;
    if (!log) {
      throw new A3sError("not_running", `container ${container.id} is not running here`, {
        status: 409,
      });
    }
    await log.reopen();
    return {};
  }

  async #releaseStdin(containerId: string): Promise<void> {
    const held = this.#stdins.get(containerId);
    this.#stdins.delete(containerId);
    if (held && !held.closed) {
      held.closed = true;
      await held.writer.close().catch(() => {});
    }
  }

  // The streaming server's backend: Exec, Attach and PortForward.

  /** The full id of a running container; NOT_FOUND or FAILED_PRECONDITION otherwise. */
  async runningContainer(containerId: string): Promise<string> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      containerId,
      "container",
    );
    if ((await this.#box(container.id))?.state !== "running") {
      throw new A3sError("container_not_running", `container ${container.id} is not running`, {
        status: 409,
        field: "container_id",
      });
    }
    return container.id;
  }

  /** Starts a command in a container for `Exec`. */
  async execInContainer(
    containerId: string,
    command: string[],
    tty: boolean,
  ): Promise<ExecProcess> {
    const container = await this.#records.load<ContainerRecord>(
      "containers",
      containerId,
      "container",
    );
    return await this.#boxes.exec(container.id, { command, tty, user: container.user });
  }

  /**
   * The container's main process for `Attach`: its output from now on, and its stdin when it was
   * created with `stdin` (for a `stdin_once` container, only until the first client detaches).
   */
  async attachContainer(containerId: string, signal: AbortSignal): Promise<AttachedContainer> {
    const id = await this.runningContainer(containerId);
    const container = await this.#records.load<ContainerRecord>("containers", id, "container");
    const held = this.#stdins.get(id);
    const boxes = this.#boxes;
    return {
      // From the tap when this server started the container, so the subscription starts now;
      // a container started by an earlier server is followed from the end of its output.
      output: this.#outputs.get(id)?.tap.follow(signal) ??
        boxes.logs(id, { follow: true, fromEnd: true, signal }),
      stdin: held && !held.closed
        ? {
          write: (data) => held.writer.write(data),
          detach: async () => {
            if (held.once) await this.#releaseStdin(id);
          },
        }
        : undefined,
      async exitCode() {
        const box = await unlessNotFound(boxes.inspect(id));
        return box?.state === "exited" ? box.exitCode ?? undefined : undefined;
      },
      resize: container.tty ? (rows, cols) => boxes.resizeTerminal(id, rows, cols) : undefined,
    };
  }

  /** The network namespace of a ready pod, for `PortForward`. */
  async podNetns(podSandboxId: string): Promise<string> {
    const sandbox = await this.#records.load<SandboxRecord>(
      "sandboxes",
      podSandboxId,
      "pod sandbox",
    );
    if (await this.#sandboxState(sandbox) !== 0) {
      throw new A3sError("sandbox_not_ready", `pod sandbox ${sandbox.id} is not ready`, {
        status: 409,
        field: "pod_sandbox_id",
      });
    }
    // A pod on the node's network listens in this process's own network namespace.
    return sandbox.netns ? netnsPath(sandbox.netns) : "/proc/self/ns/net";
  }

  /** Stops copying logs (the boxes keep running; they are detached). */
  close(): void {
    for (const output of this.#outputs.values()) output.tap.stop();
    for (const id of [...this.#stdins.keys()]) void this.#releaseStdin(id);
  }
}
