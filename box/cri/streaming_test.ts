/**
 * CRI streaming as the kubelet and crictl use it: `Exec`, `Attach` and `PortForward` over gRPC
 * return a URL, and a real WebSocket client speaking Kubernetes' channel protocol connects to it
 * and drives real namespace boxes: exec with and without a terminal, stdin, exit codes, resize,
 * attach with stdin, and a port forwarded to a server inside a pod. Pods get IPs on the pod
 * network and reach each other by them.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { openNamespaceBoxes } from "../_test_support.ts";
import { CriRuntime, POD_NETWORK } from "./cri_runtime.ts";
import { loadCriServices, serveCri } from "./server.ts";
import {
  decodeFrame,
  encodeFrame,
  exitStatusFrame,
  negotiateProtocol,
  parseResize,
  REMOTECOMMAND_PROTOCOLS,
} from "./remotecommand.ts";
import { StreamTokens } from "./stream_tokens.ts";
import { OutputTap } from "./output_tap.ts";
import { SPDY_DICTIONARY } from "./spdy.ts";
import { connectSpdy } from "./_spdy_test_client.ts";
import { caller, canRun, connect, text } from "./_test_client.ts";

Deno.test("stream tokens: single use, and worthless once expired", () => {
  let now = 1000;
  const tokens = new StreamTokens<string>({ ttlMs: 500, maxPending: 2, now: () => now });
  const first = tokens.issue("exec-a");
  assert(/^[A-Za-z0-9_-]{43}$/.test(first), first);
  assertEquals(tokens.take(first), "exec-a");
  assertEquals(tokens.take(first), undefined);
  const late = tokens.issue("exec-b");
  now += 500;
  assertEquals(tokens.take(late), undefined);
  tokens.issue("c");
  tokens.issue("d");
  let refused = "";
  try {
    tokens.issue("e");
  } catch (error) {
    refused = (error as { code: string }).code;
  }
  assertEquals(refused, "too_many_streams");
  now += 500;
  assertEquals(tokens.pending, 0);
});

Deno.test("channel protocol: negotiation, frames, v5 close and the v4 exit status", () => {
  const v5 = negotiateProtocol("v4.channel.k8s.io, v5.channel.k8s.io", REMOTECOMMAND_PROTOCOLS)!;
  assertEquals(v5, { name: "v5.channel.k8s.io", version: 5, base64: false });
  assertEquals(negotiateProtocol("SPDY/3.1", REMOTECOMMAND_PROTOCOLS), undefined);
  const frame = encodeFrame(v5, 1, new TextEncoder().encode("hi")) as Uint8Array;
  assertEquals([...frame], [1, 104, 105]);
  assertEquals(decodeFrame(v5, new Uint8Array([255, 0]).buffer)?.close, true);
  assertEquals(decodeFrame(v5, new Uint8Array([]).buffer), undefined);
  const b64 = negotiateProtocol("v4.base64.channel.k8s.io", REMOTECOMMAND_PROTOCOLS)!;
  assertEquals(encodeFrame(b64, 2, new TextEncoder().encode("hi")), "2aGk=");
  const decoded = decodeFrame(b64, "0aGk=")!;
  assertEquals([decoded.channel, new TextDecoder().decode(decoded.data)], [0, "hi"]);
  // A v4 client's [255, 0] is stdout data for channel 255, not a close.
  const v4 = negotiateProtocol("v4.channel.k8s.io", REMOTECOMMAND_PROTOCOLS)!;
  assertEquals(decodeFrame(v4, new Uint8Array([255, 0]).buffer)?.close, false);
  const failed = JSON.parse(new TextDecoder().decode(exitStatusFrame(v4, 3)));
  assertEquals(failed.reason, "NonZeroExitCode");
  assertEquals(failed.details.causes, [{ reason: "ExitCode", message: "3" }]);
  assertEquals(JSON.parse(new TextDecoder().decode(exitStatusFrame(v4, 0))).status, "Success");
  assertEquals(parseResize(new TextEncoder().encode('{"Width":100,"Height":30}')), {
    rows: 30,
    cols: 100,
  });
  assertEquals(parseResize(new TextEncoder().encode('{"Width":-1}')), undefined);
});

Deno.test("spdy: the header dictionary is SPDY/3's, byte for byte (length and Adler-32)", () => {
  let a = 1;
  let b = 0;
  for (const byte of SPDY_DICTIONARY) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  assertEquals(SPDY_DICTIONARY.length, 1423);
  // The checksum zlib puts in the header of every stream compressed with this dictionary.
  assertEquals(((b << 16) | a) >>> 0, 0xe3c6a7c2);
});

Deno.test("output tap: a follower gets what is read after it subscribed, in order, then the end", async () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const logged: string[] = [];
  const tap = new OutputTap(async function* () {
    yield { stream: "stdout" as const, data: encode("before") };
    await gate;
    yield { stream: "stdout" as const, data: encode("one") };
    yield { stream: "stderr" as const, data: encode("two") };
  }, (chunk) => {
    logged.push(new TextDecoder().decode(chunk.data));
    return Promise.resolve();
  });
  await new Promise((r) => setTimeout(r, 10));
  // Subscribed before anything more is read, even though nothing reads it yet.
  const followed = tap.follow(new AbortController().signal);
  release();
  await tap.done;
  const seen: string[] = [];
  for await (const chunk of followed) {
    seen.push(`${chunk.stream}:${new TextDecoder().decode(chunk.data)}`);
  }
  assertEquals(seen, ["stdout:one", "stderr:two"]);
  assertEquals(logged, ["before", "one", "two"]);
  // A follower that comes after the end gets nothing, at once.
  const late: unknown[] = [];
  for await (const chunk of tap.follow(new AbortController().signal)) late.push(chunk);
  assertEquals(late, []);
});

Deno.test({
  name: "cri streaming: exec, attach and port-forward over WebSocket and SPDY against real pods",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    const runtime = new CriRuntime(boxes, home.home);
    const address = `unix://${join(home.home, "cri.sock")}`;
    const server = await serveCri(runtime, address);
    const services = loadCriServices();
    const client = new services.RuntimeService(address, grpc.credentials.createInsecure());
    const rt = caller(client);
    const pod = async (name: string, extra: Record<string, unknown> = {}) => {
      const config = {
        metadata: { name, uid: `uid-${name}`, namespace: "default", attempt: 0 },
        ...extra,
      };
      const { pod_sandbox_id } = await rt.RunPodSandbox({ config }) as { pod_sandbox_id: string };
      return { id: pod_sandbox_id, config };
    };
    const container = async (
      podId: string,
      sandboxConfig: unknown,
      name: string,
      args: string,
      extra: Record<string, unknown> = {},
    ) => {
      const { container_id } = await rt.CreateContainer({
        pod_sandbox_id: podId,
        config: {
          metadata: { name, attempt: 0 },
          image: { image: "busybox" },
          command: ["sh", "-c", args],
          ...extra,
        },
        sandbox_config: sandboxConfig,
      }) as { container_id: string };
      await rt.StartContainer({ container_id });
      return container_id;
    };
    try {
      const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const hostPort = (free.addr as Deno.NetAddr).port;
      free.close();
      const web = await pod("web", {
        dns_config: {
          servers: ["10.96.0.10"],
          searches: ["default.svc.cluster.local"],
          options: ["ndots:5"],
        },
        port_mappings: [{
          protocol: 0,
          container_port: 8080,
          host_port: hostPort,
          host_ip: "127.0.0.1",
        }],
      });
      const app = await container(
        web.id,
        web.config,
        "server",
        "mkdir -p /tmp/www && echo hello-from-pod > /tmp/www/index.html && " +
          "httpd -f -p 8080 -h /tmp/www",
      );

      // Exec without a terminal: stdin in, stdout and stderr apart, the exit code in the v5
      // status; the client half-closes stdin with v5's close frame.
      const { url } = await rt.Exec({
        container_id: app,
        cmd: ["sh", "-c", "read line; echo got:$line; echo to-stderr >&2; exit 3"],
        stdin: true,
        stdout: true,
        stderr: true,
      }) as { url: string };
      assert(url.startsWith(server.streamingUrl + "/exec/"), url);
      const exec = await connect(url, ["v5.channel.k8s.io", "v4.channel.k8s.io"], (send, ws) => {
        send(0, "hello\n");
        ws.send(new Uint8Array([255, 0]));
      });
      assertEquals(exec.protocol, "v5.channel.k8s.io");
      assertEquals(text(exec, 1), "got:hello\n");
      assertEquals(text(exec, 2), "to-stderr\n");
      const status = JSON.parse(text(exec, 3));
      assertEquals(status.status, "Failure");
      assertEquals(status.details.causes[0], { reason: "ExitCode", message: "3" });
      assertEquals(exec.closeCode, 1000);

      // The token was single use: a second connection to the same URL is refused.
      const again = await connect(url, ["v5.channel.k8s.io"], () => {});
      assertEquals(again.channels.size, 0);
      assert(again.closeCode !== 1000, `closed with ${again.closeCode}`);

      // Exec on a terminal (v4): resize, then an interactive shell answers through the pty.
      const tty = await rt.Exec({
        container_id: app,
        cmd: ["sh"],
        tty: true,
        stdin: true,
        stdout: true,
      }) as { url: string };
      const terminal = await connect(tty.url, ["v4.channel.k8s.io"], (send) => {
        send(4, JSON.stringify({ Width: 101, Height: 33 }));
        send(0, "stty size; [ -t 0 ] && echo on-a-tty; exit 0\n");
      });
      assertEquals(terminal.protocol, "v4.channel.k8s.io");
      assert(text(terminal, 1).includes("33 101"), text(terminal, 1));
      assert(text(terminal, 1).includes("on-a-tty"), text(terminal, 1));
      assertEquals(JSON.parse(text(terminal, 3)).status, "Success");

      const badTty = await rt.Exec({ container_id: app, cmd: ["sh"], tty: true, stderr: true })
        .then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(badTty, grpc.status.INVALID_ARGUMENT);

      // Port forward (v4): the server opens each channel with the port, then splices the
      // connection to the pod's port 8080 with channel 0.
      const forward = await rt.PortForward({ pod_sandbox_id: web.id, port: [8080] }) as {
        url: string;
      };
      let response = "";
      for (let i = 0; i < 50 && !response.includes("hello-from-pod"); i++) {
        if (i > 0) {
          await new Promise((r) => setTimeout(r, 100));
          Object.assign(
            forward,
            await rt.PortForward({ pod_sandbox_id: web.id, port: [8080] }),
          );
        }
        const session = await connect(
          `${forward.url}?port=8080`,
          ["v4.channel.k8s.io"],
          (send) => send(0, "GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n"),
        );
        const data = session.channels.get(0) ?? [];
        assertEquals([...data[0]], [8080 & 0xff, 8080 >> 8]);
        response = data.slice(1).map((d) => new TextDecoder().decode(d)).join("");
      }
      assert(response.startsWith("HTTP/1.") && response.includes("hello-from-pod"), response);

      // A hostPort reaches the pod's server from the host.
      let viaHostPort = "";
      for (let i = 0; i < 50 && !viaHostPort.includes("hello-from-pod"); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        viaHostPort = await fetch(`http://127.0.0.1:${hostPort}/index.html`)
          .then((r) => r.text(), () => "");
      }
      assertEquals(viaHostPort, "hello-from-pod\n");
      // The pod's DNS config is its containers' resolv.conf.
      const resolv = await rt.ExecSync({ container_id: app, cmd: ["cat", "/etc/resolv.conf"] });
      assertEquals(
        new TextDecoder().decode(resolv.stdout as Uint8Array),
        "nameserver 10.96.0.10\nsearch default.svc.cluster.local\noptions ndots:5\n",
      );

      // A port nothing listens on: the error channel says why.
      const closed = await rt.PortForward({ pod_sandbox_id: web.id, port: [9] }) as {
        url: string;
      };
      const refused = await connect(closed.url, ["v4.channel.k8s.io"], () => {});
      assert(/error forwarding port 9/.test(text(refused, 1).slice(2)), text(refused, 1));

      // The same over SPDY/3.1, as the kubelet and crictl stream: one stream per channel.
      const spdyExec = await rt.Exec({
        container_id: app,
        cmd: ["sh", "-c", "read line; echo spdy:$line; echo spdy-err >&2; exit 4"],
        stdin: true,
        stdout: true,
        stderr: true,
      }) as { url: string };
      const spdy = await connectSpdy(spdyExec.url, ["v4.channel.k8s.io", "v3.channel.k8s.io"]);
      assertEquals(spdy.protocol, "v4.channel.k8s.io");
      const errorStream = await spdy.open({ streamType: "error" });
      const stdinStream = await spdy.open({ streamType: "stdin" });
      const stdoutStream = await spdy.open({ streamType: "stdout" });
      const stderrStream = await spdy.open({ streamType: "stderr" });
      await spdy.send(stdinStream, "over-spdy\n", true);
      await Promise.all([errorStream.finished, stdoutStream.finished, stderrStream.finished]);
      assertEquals(stdoutStream.text(), "spdy:over-spdy\n");
      assertEquals(stderrStream.text(), "spdy-err\n");
      const spdyStatus = JSON.parse(errorStream.text());
      assertEquals(spdyStatus.details.causes[0], { reason: "ExitCode", message: "4" });
      await spdy.closed;

      const spdyTty = await rt.Exec({
        container_id: app,
        cmd: ["sh", "-c", "sleep 0.3; stty size"],
        tty: true,
        stdout: true,
      }) as { url: string };
      const ttyClient = await connectSpdy(spdyTty.url, ["v4.channel.k8s.io"]);
      const ttyError = await ttyClient.open({ streamType: "error" });
      const ttyOut = await ttyClient.open({ streamType: "stdout" });
      const resize = await ttyClient.open({ streamType: "resize" });
      await ttyClient.send(resize, JSON.stringify({ Width: 77, Height: 21 }) + "\n");
      await Promise.all([ttyError.finished, ttyOut.finished]);
      assert(ttyOut.text().includes("21 77"), ttyOut.text());
      assertEquals(JSON.parse(ttyError.text()).status, "Success");
      ttyClient.close();

      // Port forward over SPDY: a pair of streams per connection, two connections on one session.
      const spdyForward = await rt.PortForward({ pod_sandbox_id: web.id, port: [8080] }) as {
        url: string;
      };
      const forwarder = await connectSpdy(spdyForward.url, ["portforward.k8s.io"]);
      assertEquals(forwarder.protocol, "portforward.k8s.io");
      for (const requestId of ["0", "1"]) {
        const error = await forwarder.open({
          streamType: "error",
          port: "8080",
          requestID: requestId,
        });
        const data = await forwarder.open({
          streamType: "data",
          port: "8080",
          requestID: requestId,
        });
        await forwarder.send(data, "GET /index.html HTTP/1.0\r\n\r\n");
        await data.finished;
        assert(data.text().includes("hello-from-pod"), data.text());
        await error.finished;
        assertEquals(error.text(), "");
      }
      forwarder.close();

      // Attach with stdin: the main process reads what the client types.
      const echo = await container(
        web.id,
        web.config,
        "echo",
        "while read l; do echo echo:$l; done",
        {
          stdin: true,
        },
      );
      const attach = await rt.Attach({ container_id: echo, stdin: true, stdout: true }) as {
        url: string;
      };
      assert(attach.url.startsWith(server.streamingUrl + "/attach/"), attach.url);
      const attached = await connect(
        attach.url,
        ["v5.channel.k8s.io"],
        // Attach shows output from the moment it starts following: a line typed before that
        // (a loaded machine) echoes unseen, so keep typing until one echo shows.
        (send, ws) => {
          const typing = setInterval(() => send(0, "ping\n"), 200);
          ws.addEventListener("close", () => clearInterval(typing));
        },
        (session) => text(session, 1).includes("echo:ping"),
      );
      assert(text(attached, 1).includes("echo:ping"), text(attached, 1));
      const noStdin = await rt.Attach({ container_id: app, stdin: true, stdout: true }) as {
        url: string;
      };
      const refusedStdin = await connect(noStdin.url, ["v5.channel.k8s.io"], () => {});
      assert(text(refusedStdin, 3).includes("not created with stdin"), text(refusedStdin, 3));

      // Pod IPs: a second pod reaches the first by its IP, on the pod network.
      const webIp = ((await rt.PodSandboxStatus({ pod_sandbox_id: web.id })).status as {
        network: { ip: string };
      }).network.ip;
      const other = await pod("client");
      const otherIp = ((await rt.PodSandboxStatus({ pod_sandbox_id: other.id })).status as {
        network: { ip: string };
      }).network.ip;
      assert(/^10\.89\.\d+\.\d+$/.test(webIp) && webIp !== otherIp, `${webIp} ${otherIp}`);
      const probe = await container(other.id, other.config, "probe", "sleep 600");
      // A pod spec's `command` without `args` runs as given: the image's Cmd is not appended.
      const { container_id: bare } = await rt.CreateContainer({
        pod_sandbox_id: other.id,
        config: {
          metadata: { name: "bare", attempt: 0 },
          image: { image: "busybox" },
          command: ["sleep", "600"],
        },
        sandbox_config: other.config,
      }) as { container_id: string };
      await rt.StartContainer({ container_id: bare });
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(
        ((await rt.ContainerStatus({ container_id: bare })).status as { state: number }).state,
        1,
      );
      // A security context's user and group (names from the image's /etc/passwd).
      const { container_id: runAs } = await rt.CreateContainer({
        pod_sandbox_id: other.id,
        config: {
          metadata: { name: "run-as", attempt: 0 },
          image: { image: "busybox" },
          command: ["sleep", "600"],
          linux: {
            security_context: { run_as_user: { value: 1001 }, run_as_group: { value: 1002 } },
          },
        },
        sandbox_config: other.config,
      }) as { container_id: string };
      await rt.StartContainer({ container_id: runAs });
      const ids = await rt.ExecSync({ container_id: runAs, cmd: ["sh", "-c", "id -u; id -g"] });
      assertEquals(new TextDecoder().decode(ids.stdout as Uint8Array), "1001\n1002\n");
      const groupOnly = await rt.CreateContainer({
        pod_sandbox_id: other.id,
        config: {
          metadata: { name: "group-only", attempt: 0 },
          image: { image: "busybox" },
          linux: { security_context: { run_as_group: { value: 1002 } } },
        },
        sandbox_config: other.config,
      }).then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(groupOnly, grpc.status.INVALID_ARGUMENT);

      // The host reaches pod IPs, as the kubelet's probes need.
      const fromHost = await fetch(`http://${webIp}:8080/index.html`).then((r) => r.text());
      assertEquals(fromHost, "hello-from-pod\n");
      const fetched = await rt.ExecSync({
        container_id: probe,
        cmd: ["sh", "-c", `wget -qO- http://${webIp}:8080/index.html; ip -4 -o addr show`],
        timeout: 10,
      });
      const out = new TextDecoder().decode(fetched.stdout as Uint8Array);
      assert(out.includes("hello-from-pod"), out);
      assert(out.includes(`inet ${otherIp}/24`), out);

      // Once the pod stops it has no IP, and its URLs are refused up front.
      await rt.StopPodSandbox({ pod_sandbox_id: other.id });
      await rt.StopPodSandbox({ pod_sandbox_id: web.id });
      const closedPort = await fetch(`http://127.0.0.1:${hostPort}/`).then(
        (r) => r.body?.cancel().then(() => "open"),
        () => "closed",
      );
      assertEquals(closedPort, "closed");
      const stopped = (await rt.PodSandboxStatus({ pod_sandbox_id: other.id })).status as {
        network: { ip: string };
      };
      assertEquals(stopped.network.ip, "");
      const notReady = await rt.PortForward({ pod_sandbox_id: other.id, port: [80] })
        .then(() => undefined, (error: grpc.ServiceError) => error.code);
      assertEquals(notReady, grpc.status.FAILED_PRECONDITION);
    } finally {
      client.close();
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
