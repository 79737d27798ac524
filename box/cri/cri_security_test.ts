/**
 * A Kubernetes security context through the CRI, as the kubelet sends it, against real namespace
 * boxes: capabilities, read-only rootfs, the pod's sysctls, seccomp (RuntimeDefault, Unconfined
 * and a Localhost profile read through the access policy), the node's pid namespace, and a
 * terminal container attached with a resize. Each container prints what it sees into its CRI
 * log; what box cannot honour is refused with the gRPC code and the field.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { AccessPolicy } from "@a3s/common";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { openNamespaceBoxes } from "../_test_support.ts";
import { CriRuntime } from "./cri_runtime.ts";
import { loadCriServices, serveCri } from "./server.ts";
import { caller, canRun, connect, text } from "./_test_client.ts";

/** The content of a CRI log file's records, with the streams they came on. */
async function logOf(path: string): Promise<{ text: string; streams: Set<string> }> {
  const lines = (await Deno.readTextFile(path).catch(() => "")).split("\n").filter(Boolean);
  const streams = new Set<string>();
  let out = "";
  for (const line of lines) {
    const [, stream, tag, ...rest] = line.split(" ");
    streams.add(stream);
    out += rest.join(" ") + (tag === "F" ? "\n" : "");
  }
  return { text: out, streams };
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "cri security: a pod's security context reaches real boxes, or is refused by field",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    // The node's seccomp profiles live under the policy's root; nothing else may be named.
    const profiles = join(home.home, "seccomp");
    await Deno.mkdir(profiles);
    await Deno.writeTextFile(
      join(profiles, "no-mkdir.json"),
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
      }),
    );
    const outside = join(home.home, "outside.json");
    await Deno.writeTextFile(outside, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW" }));
    const runtime = new CriRuntime(boxes, home.home, {
      policy: new AccessPolicy({ roots: [profiles] }),
    });
    const address = `unix://${join(home.home, "cri.sock")}`;
    const server = await serveCri(runtime, address);
    const services = loadCriServices();
    const grpcClient = new services.RuntimeService(address, grpc.credentials.createInsecure());
    const rt = caller(grpcClient);
    const logDir = join(home.home, "logs");
    const sandboxConfig = {
      metadata: { name: "secure", uid: "uid-secure", namespace: "default", attempt: 0 },
      log_directory: logDir,
      linux: {
        sysctls: { "net.ipv4.ip_forward": "1" },
        // The CRI's default pid mode for a sandbox is POD; each container names its own.
        security_context: { namespace_options: { network: 0, ipc: 0 } },
      },
    };
    const create = (name: string, script: string, context: unknown, extra = {}) =>
      rt.CreateContainer({
        pod_sandbox_id: podId,
        config: {
          metadata: { name, attempt: 0 },
          image: { image: "busybox" },
          command: ["sh", "-c", script],
          log_path: `${name}.log`,
          linux: { security_context: context },
          ...extra,
        },
        sandbox_config: sandboxConfig,
      }) as Promise<{ container_id: string }>;
    const run = async (name: string, script: string, context: unknown) => {
      const { container_id } = await create(name, `${script}; echo end`, context);
      await rt.StartContainer({ container_id });
      let log = { text: "", streams: new Set<string>() };
      await eventually(`${name}'s output`, async () => {
        log = await logOf(join(logDir, `${name}.log`));
        return log.text.includes("end\n");
      });
      return log.text;
    };
    const refused = (name: string, context: unknown) =>
      create(name, "true", context).then(
        () => undefined,
        (error: grpc.ServiceError) => ({ code: error.code, message: error.details }),
      );
    let podId = "";
    try {
      ({ pod_sandbox_id: podId } = await rt.RunPodSandbox({ config: sandboxConfig }) as {
        pod_sandbox_id: string;
      });
      const namespaces = { network: 0, pid: 1, ipc: 0 };

      // Capabilities: all dropped but one added back (CAP_NET_BIND_SERVICE is bit 10).
      const caps = await run("caps", "grep CapEff /proc/self/status", {
        namespace_options: namespaces,
        capabilities: { drop_capabilities: ["ALL"], add_capabilities: ["CAP_NET_BIND_SERVICE"] },
      });
      assert(caps.includes("CapEff:\t0000000000000400"), caps);

      // A read-only rootfs refuses writes.
      const readOnly = await run("readonly", "touch /made-here 2>&1; echo rc=$?", {
        namespace_options: namespaces,
        readonly_rootfs: true,
      });
      assert(/Read-only file system/.test(readOnly) && readOnly.includes("rc=1"), readOnly);

      // The pod's sysctls are set in its containers.
      const sysctl = await run("sysctl", "cat /proc/sys/net/ipv4/ip_forward", {
        namespace_options: namespaces,
      });
      assertEquals(sysctl, "1\nend\n");

      // Seccomp: the runtime's default filter, none, and the node's profile denying mkdir.
      const runtimeDefault = await run("seccomp-default", "grep Seccomp: /proc/self/status", {
        namespace_options: namespaces,
        seccomp: { profile_type: 0 },
      });
      assert(runtimeDefault.includes("Seccomp:\t2"), runtimeDefault);
      const unconfined = await run("seccomp-none", "grep Seccomp: /proc/self/status", {
        namespace_options: namespaces,
        seccomp: { profile_type: 1 },
      });
      assert(unconfined.includes("Seccomp:\t0"), unconfined);
      // No profile named at all is Unconfined too, as the CRI defines it.
      const unnamed = await run("seccomp-unnamed", "grep Seccomp: /proc/self/status", {
        namespace_options: namespaces,
      });
      assert(unnamed.includes("Seccomp:\t0"), unnamed);
      const profiled = await run("seccomp-profile", "mkdir /tmp/denied 2>&1; echo rc=$?", {
        namespace_options: namespaces,
        seccomp: { profile_type: 2, localhost_ref: join(profiles, "no-mkdir.json") },
      });
      assert(/Operation not permitted/.test(profiled) && profiled.includes("rc=1"), profiled);

      // The node's pid namespace: pid 1 is the host's init.
      const hostInit = (await Deno.readTextFile("/proc/1/comm")).trim();
      const hostPid = await run("host-pid", "cat /proc/1/comm", {
        namespace_options: { ...namespaces, pid: 2 },
      });
      assertEquals(hostPid, `${hostInit}\nend\n`);

      // What box cannot honour, or the CRI forbids, is refused with the field named.
      const sharedPids = await refused("shared-pids", { namespace_options: { pid: 0 } });
      assertEquals(sharedPids?.code, grpc.status.UNIMPLEMENTED);
      assert(sharedPids?.message.includes("namespace_options.pid"), sharedPids?.message);
      const privileged = await refused("privileged", {
        namespace_options: namespaces,
        privileged: true,
      });
      assertEquals(privileged?.code, grpc.status.INVALID_ARGUMENT);
      assert(privileged?.message.includes("security_context.privileged"), privileged?.message);
      const groups = await refused("groups", {
        namespace_options: namespaces,
        supplemental_groups: [1000],
      });
      assertEquals(groups?.code, grpc.status.UNIMPLEMENTED);
      const escaped = await refused("escaped", {
        namespace_options: namespaces,
        seccomp: { profile_type: 2, localhost_ref: outside },
      });
      assert(escaped?.message.includes("seccomp.localhost_ref"), escaped?.message);
      const relative = await refused("relative", {
        namespace_options: namespaces,
        seccomp: { profile_type: 2, localhost_ref: "no-mkdir.json" },
      });
      assertEquals(relative?.code, grpc.status.INVALID_ARGUMENT);

      // A terminal: its output is one stream in the CRI log, and Attach resizes it.
      const { container_id: term } = await create(
        "term",
        "while read line; do stty size; echo got:$line >&2; done",
        { namespace_options: namespaces },
        { tty: true, stdin: true },
      );
      await rt.StartContainer({ container_id: term });
      await eventually("the terminal container", async () => {
        const state = (await rt.ContainerStatus({ container_id: term })).status as {
          state: number;
        };
        return state.state === 1;
      });
      const attach = await rt.Attach({
        container_id: term,
        stdin: true,
        stdout: true,
        tty: true,
      }) as {
        url: string;
      };
      const attached = await connect(
        attach.url,
        ["v4.channel.k8s.io"],
        (send, ws) => {
          send(4, JSON.stringify({ Width: 97, Height: 31 }));
          const typing = setInterval(() => send(0, "ping\n"), 200);
          ws.addEventListener("close", () => clearInterval(typing));
        },
        (session) => text(session, 1).includes("got:ping"),
      );
      const seen = text(attached, 1);
      assert(seen.includes("31 97") && seen.includes("got:ping"), seen);
      const termLog = await logOf(join(logDir, "term.log"));
      assert(termLog.text.includes("31 97"), termLog.text);
      assertEquals([...termLog.streams], ["stdout"]);
    } finally {
      if (podId) {
        await rt.StopPodSandbox({ pod_sandbox_id: podId }).catch(() => {});
        await rt.RemovePodSandbox({ pod_sandbox_id: podId }).catch(() => {});
      }
      grpcClient.close();
      await server.close();
      runtime.close();
      boxes.close();
      await home.close();
    }
  },
});
