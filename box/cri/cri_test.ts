/**
 * The CRI server as a kubelet drives it: a gRPC client built from the same protobuf runs the
 * full pod life cycle over a unix socket against real namespace boxes, and checks the status
 * fields the kubelet reads.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { openNamespaceBoxes } from "../_test_support.ts";
import { CriRuntime, POD_NETWORK } from "./cri_runtime.ts";
import { loadCriServices, serveCri } from "./server.ts";
import { criLogRecords } from "./cri_log.ts";
import { caller, canRun } from "./_test_client.ts";

Deno.test({
  name: "cri: a kubelet-style client runs a pod's whole life cycle over gRPC",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    const runtime = new CriRuntime(boxes, home.home);
    const address = `unix://${join(home.home, "cri.sock")}`;
    const server = await serveCri(runtime, address);
    const services = loadCriServices();
    const runtimeClient = new services.RuntimeService(address, grpc.credentials.createInsecure());
    const imageClient = new services.ImageService(address, grpc.credentials.createInsecure());
    const rt = caller(runtimeClient);
    const img = caller(imageClient);
    const logDir = join(home.home, "pods", "default_web_uid1");
    try {
      const version = await rt.Version({ version: "v1" });
      assertEquals(version.runtime_name, "a3s-box");
      assertEquals(version.runtime_api_version, "v1");
      const status = await rt.Status({});
      const conditions = (status.status as { conditions: { type: string; status: boolean }[] })
        .conditions;
      assert(conditions.some((c) => c.type === "RuntimeReady" && c.status));

      // Images: status of a missing image is an empty reply, not an error.
      assertEquals((await img.ImageStatus({ image: { image: "nope:1" } })).image, null);
      const busybox = await img.ImageStatus({ image: { image: "busybox" } });
      const imageId = (busybox.image as { id: string }).id;
      assert(imageId.startsWith("sha256:"));
      const listed = await img.ListImages({});
      assert((listed.images as { repo_tags: string[] }[]).some((i) => i.repo_tags.length > 0));
      const fs = await img.ImageFsInfo({});
      const usage = (fs.image_filesystems as { used_bytes: { value: string } }[])[0];
      assert(Number(usage.used_bytes.value) > 0);

      const sandboxConfig = {
        metadata: { name: "web", uid: "uid1", namespace: "default", attempt: 0 },
        hostname: "web-pod",
        log_directory: logDir,
        labels: { app: "web" },
        annotations: { note: "kept as is" },
      };
      const { pod_sandbox_id: podId } = await rt.RunPodSandbox({ config: sandboxConfig }) as {
        pod_sandbox_id: string;
      };
      const podStatus = await rt.PodSandboxStatus({ pod_sandbox_id: podId });
      const pod = podStatus.status as Record<string, unknown>;
      assertEquals(pod.id, podId);
      assertEquals(pod.state, 0); // SANDBOX_READY
      assertEquals(pod.labels, { app: "web" });
      assert(/^10\.89\.\d+\.\d+$/.test((pod.network as { ip: string }).ip), String(pod.network));
      assertEquals(pod.annotations, { note: "kept as is" });
      assertEquals((pod.metadata as { name: string }).name, "web");
      assert(BigInt(pod.created_at as string) > 0n);

      const { container_id: id } = await rt.CreateContainer({
        pod_sandbox_id: podId,
        config: {
          metadata: { name: "app", attempt: 0 },
          image: { image: "busybox" },
          command: ["sh", "-c"],
          args: ["echo started; echo oops >&2; printf partial; sleep 600"],
          envs: [{ key: "MODE", value: "cri" }],
          labels: { tier: "front" },
          log_path: "app/0.log",
        },
        sandbox_config: sandboxConfig,
      }) as { container_id: string };
      let container = (await rt.ContainerStatus({ container_id: id })).status as Record<
        string,
        unknown
      >;
      assertEquals(container.state, 0); // CONTAINER_CREATED
      await rt.StartContainer({ container_id: id });
      container = (await rt.ContainerStatus({ container_id: id })).status as Record<
        string,
        unknown
      >;
      assertEquals(container.state, 1); // CONTAINER_RUNNING
      assert(BigInt(container.started_at as string) > 0n);
      assertEquals(container.image_ref, imageId);
      assertEquals(container.log_path, join(logDir, "app/0.log"));

      // Containers of a pod share its network namespace and hostname.
      const exec = await rt.ExecSync({
        container_id: id,
        cmd: ["sh", "-c", "echo $MODE $(hostname); readlink /proc/1/ns/net; exit 3"],
        timeout: 10,
      });
      const [modeHost, containerNet] = new TextDecoder().decode(exec.stdout as Uint8Array).trim()
        .split("\n");
      assertEquals(modeHost, "cri web-pod");
      assertEquals(exec.exit_code, 3);
      const sandboxNet = await boxes.exec(podId, { command: ["readlink", "/proc/1/ns/net"] });
      await sandboxNet.stdin.close();
      assertEquals((await new Response(sandboxNet.stdout).text()).trim(), containerNet);

      // An exec that prints more than an answer holds (6 MiB) comes back bounded, its start and
      // end with the bytes between counted, in one gRPC message.
      const flood = await rt.ExecSync({
        container_id: id,
        cmd: ["sh", "-c", "head -c 6291456 /dev/zero | tr '\\0' a"],
        timeout: 30,
      });
      const flooded = new TextDecoder().decode(flood.stdout as Uint8Array);
      assert(flooded.length < 1.1 * 1024 * 1024, `${flooded.length} characters`);
      assert(flooded.includes("[... 5242880 bytes of output dropped ...]"));

      const timedOut = await rt.ExecSync({ container_id: id, cmd: ["sleep", "5"], timeout: 1 })
        .then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(timedOut, grpc.status.DEADLINE_EXCEEDED);

      const stats = (await rt.ContainerStats({ container_id: id })).stats as {
        attributes: { id: string };
        memory: { working_set_bytes: { value: string } };
      };
      assertEquals(stats.attributes.id, id);
      assert(Number(stats.memory.working_set_bytes.value) > 0);
      const allStats = await rt.ListContainerStats({ filter: { pod_sandbox_id: podId } });
      assertEquals((allStats.stats as unknown[]).length, 1);

      const listedContainers = await rt.ListContainers({
        filter: { label_selector: { tier: "front" } },
      });
      assertEquals((listedContainers.containers as { id: string }[]).map((c) => c.id), [id]);
      const pods = await rt.ListPodSandbox({ filter: { label_selector: { app: "web" } } });
      assertEquals((pods.items as { id: string }[]).map((p) => p.id), [podId]);

      // Logs land where the kubelet reads them, in the CRI format.
      const logPath = join(logDir, "app/0.log");
      let log = "";
      for (let i = 0; i < 50 && !log.includes("partial"); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = await Deno.readTextFile(logPath).catch(() => "");
      }
      assert(/^\S+Z stdout F started$/m.test(log), log);
      assert(/^\S+Z stderr F oops$/m.test(log), log);
      assert(/^\S+Z stdout P partial$/m.test(log), log);
      await Deno.rename(logPath, `${logPath}.1`);
      await rt.ReopenContainerLog({ container_id: id });
      assert((await Deno.stat(logPath)).isFile);

      await rt.UpdateContainerResources({
        container_id: id,
        linux: { memory_limit_in_bytes: 96 * 1024 * 1024 },
      });
      const limited = (await rt.ContainerStatus({ container_id: id })).status as {
        resources: { linux: { memory_limit_in_bytes: string } };
      };
      assertEquals(limited.resources.linux.memory_limit_in_bytes, String(96 * 1024 * 1024));
      assertEquals((await boxes.stats(id)).memoryLimitBytes, 96 * 1024 * 1024);
      const noStreams = await rt.Exec({ container_id: id, cmd: ["sh"] })
        .then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(noStreams, grpc.status.INVALID_ARGUMENT);

      await rt.StopContainer({ container_id: id, timeout: 1 });
      container = (await rt.ContainerStatus({ container_id: id })).status as Record<
        string,
        unknown
      >;
      assertEquals(container.state, 2); // CONTAINER_EXITED
      assert(BigInt(container.finished_at as string) > 0n);
      assert(container.reason === "Error" || container.reason === "Completed");

      await rt.StopPodSandbox({ pod_sandbox_id: podId });
      await rt.StopPodSandbox({ pod_sandbox_id: podId }); // idempotent
      const stopped = (await rt.PodSandboxStatus({ pod_sandbox_id: podId })).status as {
        state: number;
      };
      assertEquals(stopped.state, 1); // SANDBOX_NOTREADY
      await rt.RemovePodSandbox({ pod_sandbox_id: podId });
      await rt.RemovePodSandbox({ pod_sandbox_id: podId }); // idempotent
      assertEquals((await rt.ListPodSandbox({})).items, []);
      assertEquals((await rt.ListContainers({})).containers, []);
      assertEquals(await boxes.list({ all: true }), []);
      const missing = await rt.ContainerStatus({ container_id: id })
        .then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(missing, grpc.status.NOT_FOUND);
      const bad = await rt.RunPodSandbox({})
        .then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(bad, grpc.status.INVALID_ARGUMENT);
    } finally {
      runtimeClient.close();
      imageClient.close();
      await server.close();
      // A failed assertion must not leave network namespaces behind.
      for (const pod of (await runtime.listPodSandbox({})).items) {
        await runtime.removePodSandbox({ pod_sandbox_id: pod.id });
      }
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      await boxes.networks.remove(POD_NETWORK).catch(() => {});
      boxes.close();
      await home.close();
    }
  },
});

Deno.test("cri log records: full lines are F, a trailing partial line is P", () => {
  const at = new Date("2026-01-02T03:04:05.678Z");
  assertEquals(
    criLogRecords("stdout", "a\nb\npart", at),
    "2026-01-02T03:04:05.678000000Z stdout F a\n2026-01-02T03:04:05.678000000Z stdout F b\n" +
      "2026-01-02T03:04:05.678000000Z stdout P part\n",
  );
});
