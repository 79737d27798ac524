/**
 * A pod on the qemu runtime handler through the CRI, as a kubelet with a `qemu` RuntimeClass
 * drives it (QEMU under TCG here, one boot): the sandbox is the pod's VM, its containers run
 * inside it and reach each other on localhost, exec and logs work per container, a container's
 * exit is its own, the pod has a pod IP whose container ports reach the VM (and PortForward
 * too), and what a VM pod cannot do is refused by field.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { addBusybox, openQemuBoxes, TEST_AGENT_CACHE } from "../_test_support.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { CriRuntime } from "./cri_runtime.ts";
import { loadCriServices, serveCri } from "./server.ts";
import { caller, connect } from "./_test_client.ts";

const decoder = new TextDecoder();

/** Command lines of the QEMU processes that mention `text`, arguments space-separated. */
async function qemuProcesses(text: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.startsWith("qemu-system") && cmdline.includes(text)) {
      found.push(cmdline.replaceAll("\0", " "));
    }
  }
  return found;
}

Deno.test({
  name: "cri: a pod on the qemu handler runs its containers in one VM",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const vm = await openQemuBoxes([new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE })]);
    if (!vm) return;
    const { home, boxes } = vm;
    await addBusybox(home.images);
    const runtime = new CriRuntime(boxes, home.home);
    const address = `unix://${join(home.home, "cri.sock")}`;
    const server = await serveCri(runtime, address);
    const services = loadCriServices();
    const grpcClient = new services.RuntimeService(address, grpc.credentials.createInsecure());
    const rt = caller(grpcClient);
    const logDir = join(home.home, "logs");
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const hostPort = (free.addr as Deno.NetAddr).port;
    free.close();
    const sandboxConfig = {
      metadata: { name: "vm-pod", uid: "uid-vm", namespace: "default", attempt: 0 },
      hostname: "vm-pod",
      log_directory: logDir,
      port_mappings: [{
        protocol: 0,
        container_port: 80,
        host_port: hostPort,
        host_ip: "127.0.0.1",
      }],
      // The kubelet's pod-level sizing: the sum of the containers' limits, and the overhead.
      linux: {
        resources: { memory_limit_in_bytes: 256 * 1024 * 1024 },
        overhead: { memory_limit_in_bytes: 64 * 1024 * 1024 },
      },
    };
    let podId = "";
    try {
      const unknown = await rt.RunPodSandbox({ config: sandboxConfig, runtime_handler: "nope" })
        .then(() => undefined, (error: grpc.ServiceError) => error);
      assertEquals(unknown?.code, grpc.status.INVALID_ARGUMENT);
      assert(unknown?.details.includes("runtime_handler"), unknown?.details);

      ({ pod_sandbox_id: podId } = await rt.RunPodSandbox({
        config: sandboxConfig,
        runtime_handler: "qemu",
      }) as { pod_sandbox_id: string });
      const pod = (await rt.PodSandboxStatus({ pod_sandbox_id: podId })).status as {
        state: number;
        runtime_handler: string;
      };
      assertEquals([pod.state, pod.runtime_handler], [0, "qemu"]);

      const container = async (name: string, script: string) => {
        const { container_id } = await rt.CreateContainer({
          pod_sandbox_id: podId,
          config: {
            metadata: { name, attempt: 0 },
            image: { image: "busybox" },
            command: ["sh", "-c", script],
            log_path: `${name}/0.log`,
          },
          sandbox_config: sandboxConfig,
        }) as { container_id: string };
        await rt.StartContainer({ container_id });
        return container_id;
      };
      const web = await container(
        "web",
        "mkdir -p /www && echo from-web > /www/index.html && echo serving && httpd -f -p 80 -h /www",
      );
      const client = await container("client", "echo client-ready; sleep 600");
      const once = await container("once", "echo done >&2; exit 4");
      // One VM on the host for the whole pod, sized from the pod's resources.
      const vms = await qemuProcesses(home.home);
      assertEquals(vms.length, 1);
      assert(vms[0].includes(" -m 320M "), vms[0]);

      // The containers share the VM's network: localhost reaches the other container.
      let body = "";
      for (let i = 0; i < 100 && !body.includes("from-web"); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 200));
        const reply = await rt.ExecSync({
          container_id: client,
          cmd: ["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80"],
          timeout: 60, // a TCG guest under a loaded host once needed more than 20 s
        });
        body = decoder.decode(reply.stdout as Uint8Array);
      }
      assert(body.includes("from-web"), body);
      // The pod's hostPort reaches the same server through the VM's network.
      let served = "";
      for (let i = 0; i < 50 && !served.includes("from-web"); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 200));
        served = await fetch(`http://127.0.0.1:${hostPort}/`).then((r) => r.text()).catch(() => "");
      }
      assert(served.includes("from-web"), served);
      // The pod has an IP on the pod network, and podIP:containerPort from the host reaches
      // the container's port inside the VM, as the kubelet's probes and Services expect.
      const podIp = ((await rt.PodSandboxStatus({ pod_sandbox_id: podId })).status as {
        network: { ip: string };
      }).network.ip;
      assert(/^\d+\.\d+\.\d+\.\d+$/.test(podIp), `pod IP: '${podIp}'`);
      let direct = "";
      for (let i = 0; i < 50 && !direct.includes("from-web"); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 200));
        direct = await fetch(`http://${podIp}:80/`).then((r) => r.text()).catch(() => "");
      }
      assert(direct.includes("from-web"), direct);
      // PortForward dials the same port from inside the pod's network namespace.
      const { url } = await rt.PortForward({ pod_sandbox_id: podId, port: [80] }) as {
        url: string;
      };
      const session = await connect(
        `${url}?port=80`,
        ["v4.channel.k8s.io"],
        (send) => send(0, "GET / HTTP/1.0\r\nHost: pod\r\n\r\n"),
      );
      const data = session.channels.get(0) ?? [];
      assertEquals([...data[0]], [80, 0]);
      const forwarded = data.slice(1).map((d) => decoder.decode(d)).join("");
      assert(forwarded.startsWith("HTTP/1.") && forwarded.includes("from-web"), forwarded);
      // ...and not each other's files.
      const other = await rt.ExecSync({ container_id: client, cmd: ["ls", "/www"], timeout: 20 });
      assert(other.exit_code !== 0, "the client sees web's files");

      // Separate exits: the short-lived container ended with its own code.
      let status: Record<string, unknown> = {};
      for (let i = 0; i < 100; i++) {
        status = (await rt.ContainerStatus({ container_id: once })).status as Record<
          string,
          unknown
        >;
        if (status.state === 2) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assertEquals([status.state, status.exit_code, status.reason], [2, 4, "Error"]);
      const onceLog = await Deno.readTextFile(join(logDir, "once/0.log"));
      assert(/ stderr F done\n$/.test(onceLog), onceLog);
      const running = (await rt.ContainerStatus({ container_id: client })).status as {
        state: number;
      };
      assertEquals(running.state, 1);
      const webLog = await Deno.readTextFile(join(logDir, "web/0.log"));
      assert(webLog.includes(" stdout F serving"), webLog);

      // Stats come from the container's own cgroup inside the VM.
      const stats = (await rt.ContainerStats({ container_id: web })).stats as {
        memory: { working_set_bytes: { value: string } };
      };
      assert(Number(stats.memory.working_set_bytes.value) > 0, JSON.stringify(stats));
      // Limits change live, in the container's cgroup inside the VM.
      await rt.UpdateContainerResources({
        container_id: web,
        linux: { memory_limit_in_bytes: 96 * 1024 * 1024 },
      });
      assertEquals((await boxes.stats(web)).memoryLimitBytes, 96 * 1024 * 1024);

      // What a VM pod cannot do is refused by field: security settings inside the VM.
      const dropped = await rt.CreateContainer({
        pod_sandbox_id: podId,
        config: {
          metadata: { name: "no-caps", attempt: 0 },
          image: { image: "busybox" },
          command: ["true"],
          linux: { security_context: { capabilities: { drop_capabilities: ["ALL"] } } },
        },
        sandbox_config: sandboxConfig,
      }).then(() => undefined, (error: grpc.ServiceError) => error);
      assertEquals(dropped?.code, grpc.status.FAILED_PRECONDITION);
      assert(dropped?.details.includes("security"), dropped?.details);
      const hostNetwork = await rt.RunPodSandbox({
        config: {
          ...sandboxConfig,
          metadata: { ...sandboxConfig.metadata, name: "vm-host-net" },
          linux: { security_context: { namespace_options: { network: 2 } } },
        },
        runtime_handler: "qemu",
      }).then(() => undefined, (error: grpc.ServiceError) => error);
      assertEquals(hostNetwork?.code, grpc.status.UNIMPLEMENTED);
      assert(hostNetwork?.details.includes("namespace_options"), hostNetwork?.details);

      // Stopping the pod stops its containers and its VM.
      await rt.StopPodSandbox({ pod_sandbox_id: podId });
      const stopped = (await rt.ContainerStatus({ container_id: client })).status as {
        state: number;
      };
      assertEquals(stopped.state, 2);
      assertEquals((await qemuProcesses(home.home)).length, 0);
    } finally {
      if (podId) await rt.RemovePodSandbox({ pod_sandbox_id: podId }).catch(() => {});
      grpcClient.close();
      await server.close();
      runtime.close();
      boxes.close();
      await home.close();
    }
  },
});
