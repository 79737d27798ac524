/**
 * crictl, the Kubernetes project's own CRI client, against `box cri`: the pod life cycle, images,
 * `exec` in both forms (ExecSync, and streaming over SPDY as the kubelet streams), `attach` with
 * stdin, `port-forward`, logs and stats. crictl is not in Debian; the test runs when the binary
 * is on PATH or named by `A3S_CRICTL` (a cri-tools release binary), and is skipped otherwise.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { openNamespaceBoxes } from "../_test_support.ts";
import { CriRuntime, POD_NETWORK } from "./cri_runtime.ts";
import { serveCri } from "./server.ts";

async function findCrictl(): Promise<string | undefined> {
  for (const candidate of [Deno.env.get("A3S_CRICTL"), "crictl"]) {
    if (!candidate) continue;
    try {
      const out = await new Deno.Command(candidate, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return candidate;
    } catch {
      // Not installed under this name.
    }
  }
  return undefined;
}

const crictl = await findCrictl();
const canRun = Deno.uid() === 0 && crictl !== undefined &&
  (await new Deno.Command("bwrap", { args: ["--version"] }).output().then((o) => o.success)
    .catch(() => false));
if (!crictl) console.log("SKIPPED crictl tests: no crictl (set A3S_CRICTL or put it on PATH)");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test({
  name: "crictl drives box cri: pods, images, exec (sync and SPDY), attach, port-forward",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    const runtime = new CriRuntime(boxes, home.home);
    const socket = `unix://${join(home.home, "cri.sock")}`;
    const server = await serveCri(runtime, socket);
    const run = async (args: string[], stdin?: string): Promise<Result> => {
      const child = new Deno.Command(crictl!, {
        args: [
          "--runtime-endpoint",
          socket,
          "--image-endpoint",
          socket,
          "--timeout",
          "20s",
          ...args,
        ],
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).spawn();
      if (stdin !== undefined) {
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(stdin));
        await writer.close();
      }
      const out = await child.output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
    };
    const ok = async (args: string[], stdin?: string) => {
      const result = await run(args, stdin);
      assertEquals(result.code, 0, `crictl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout.trim();
    };
    const file = async (name: string, value: unknown) => {
      const path = join(home.home, name);
      await Deno.writeTextFile(path, JSON.stringify(value));
      return path;
    };
    try {
      assert((await ok(["version"])).includes("RuntimeName:  a3s-box"));
      assert((await ok(["images"])).includes("busybox"));
      const imageInfo = JSON.parse(await ok(["inspecti", "busybox"]));
      assert(imageInfo.status.id.startsWith("sha256:"));

      const pod = await file("pod.json", {
        metadata: { name: "web", namespace: "default", uid: "crictl-uid", attempt: 0 },
        hostname: "web",
        log_directory: join(home.home, "logs"),
        labels: { app: "web" },
      });
      const podId = await ok(["runp", pod]);
      const podInfo = JSON.parse(await ok(["inspectp", podId]));
      assertEquals(podInfo.status.state, "SANDBOX_READY");
      assert(/^10\.89\.\d+\.\d+$/.test(podInfo.status.network.ip), podInfo.status.network.ip);
      assert((await ok(["pods", "--quiet"])).includes(podId));

      const serverConfig = await file("server.json", {
        metadata: { name: "server" },
        image: { image: "busybox" },
        command: ["sh", "-c"],
        args: [
          "mkdir -p /tmp/w && echo hello-crictl > /tmp/w/index.html && echo up && " +
          "exec httpd -f -p 8080 -h /tmp/w",
        ],
        log_path: "server.log",
      });
      const id = await ok(["create", podId, serverConfig, pod]);
      await ok(["start", id]);
      const status = JSON.parse(await ok(["inspect", id]));
      assertEquals(status.status.state, "CONTAINER_RUNNING");

      assertEquals(await ok(["exec", "-s", id, "echo", "sync"]), "sync");
      // Streaming exec over SPDY, with stdin, stdout and stderr apart.
      const streamed = await run(
        ["exec", "-i", id, "sh", "-c", "cat; echo to-err >&2"],
        "via-spdy\n",
      );
      assertEquals(streamed.code, 0, streamed.stderr);
      assertEquals(streamed.stdout, "via-spdy\n");
      assert(streamed.stderr.includes("to-err"), streamed.stderr);
      const failed = await run(["exec", id, "sh", "-c", "exit 3"]);
      assert(failed.code !== 0);
      assert(/exit code/.test(failed.stderr), failed.stderr);

      // Attach with stdin to a container whose main process reads it.
      const reader = await file("reader.json", {
        metadata: { name: "reader" },
        image: { image: "busybox" },
        command: ["sh", "-c", "while read l; do echo echo:$l; done; echo bye"],
        stdin: true,
        stdin_once: true,
      });
      const readerId = await ok(["create", podId, reader, pod]);
      await ok(["start", readerId]);
      const attached = await run(["attach", "-i", readerId], "ping\n");
      assert(attached.stdout.includes("echo:ping"), attached.stdout + attached.stderr);

      // Port forward: crictl listens locally and tunnels over SPDY into the pod.
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const localPort = (probe.addr as Deno.NetAddr).port;
      probe.close();
      const forward = new Deno.Command(crictl!, {
        args: ["--runtime-endpoint", socket, "port-forward", podId, `${localPort}:8080`],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        let body = "";
        for (let i = 0; i < 50 && !body.includes("hello-crictl"); i++) {
          await new Promise((r) => setTimeout(r, 200));
          body = await fetch(`http://127.0.0.1:${localPort}/index.html`)
            .then((r) => r.text(), () => "");
        }
        assertEquals(body, "hello-crictl\n");
      } finally {
        forward.kill("SIGTERM");
        await forward.output();
      }

      const stats = JSON.parse(await ok(["stats", "-o", "json", id]));
      assertEquals(stats.stats[0].attributes.id, id);
      assert((await ok(["logs", id])).includes("up"));
      await ok(["stop", id]);
      await ok(["rm", id]);
      await ok(["stopp", podId]);
      await ok(["rmp", podId]);
      assertEquals(await ok(["pods", "--quiet"]), "");
    } finally {
      await server.close();
      for (const item of (await runtime.listPodSandbox({})).items) {
        await runtime.removePodSandbox({ pod_sandbox_id: item.id });
      }
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      await boxes.networks.remove(POD_NETWORK).catch(() => {});
      boxes.close();
      await home.close();
    }
  },
});
