/**
 * The CRI streaming server: `Exec`, `Attach` and `PortForward` answer with a URL on this server
 * (`/exec/<token>`, `/attach/<token>`, `/portforward/<token>`), and the kubelet or crictl
 * connects to it with a WebSocket speaking Kubernetes' channel protocol (`remotecommand.ts`).
 * The request itself stays here under a single-use, expiring token; the URL carries nothing
 * else. It listens on 127.0.0.1 unless told otherwise, as containerd's does, since the kubelet
 * runs on the same node.
 */
import { A3sError, ValidationError } from "@a3s/common";
import type { ExecProcess } from "../types.ts";
import { ChannelSocket } from "./channel_socket.ts";
import {
  Channel,
  exitStatusFrame,
  failureFrame,
  negotiateProtocol,
  parseResize,
  PORTFORWARD_PROTOCOLS,
  portPrefix,
  REMOTECOMMAND_PROTOCOLS,
} from "./remotecommand.ts";
import { StreamTokens } from "./stream_tokens.ts";
import { dialInNetns } from "./netns_dial.ts";

/** A container's main process as `Attach` sees it. */
export interface AttachedContainer {
  /** What the main process writes from now on, until it exits or `signal` aborts. */
  output: AsyncIterable<{ stream: "stdout" | "stderr"; data: Uint8Array }>;
  /** The main process's stdin, when the container was created with `stdin`. */
  stdin?: {
    /** Writes to the main process. */
    write(data: Uint8Array): Promise<void>;
    /** Ends this session's input: closes the process's stdin only for `stdin_once` containers. */
    detach(): Promise<void>;
  };
  /** The main process's exit code once it exited (resolves after `output` ends). */
  exitCode(): Promise<number | undefined>;
}

/** What the streaming server needs from the runtime. */
export interface StreamingBackend {
  /** The full id of a running container; throws NotFoundError or a 409 error otherwise. */
  runningContainer(containerId: string): Promise<string>;
  /** Starts `command` in the container, on a pseudo-terminal with `tty`. */
  execInContainer(containerId: string, command: string[], tty: boolean): Promise<ExecProcess>;
  /** Attaches to the container's main process. */
  attachContainer(containerId: string, signal: AbortSignal): Promise<AttachedContainer>;
  /** The network namespace path of a ready pod sandbox. */
  podNetns(podSandboxId: string): Promise<string>;
}

/** `runtime.v1.ExecRequest`. */
export interface CriExecRequest {
  /** The container to run in. */
  container_id: string;
  /** The command and its arguments. */
  cmd: string[];
  /** Run on a pseudo-terminal (stdout and stderr merge). */
  tty?: boolean;
  /** Stream the client's stdin to the command. */
  stdin?: boolean;
  /** Stream the command's stdout. */
  stdout?: boolean;
  /** Stream the command's stderr (not with `tty`). */
  stderr?: boolean;
}

/** `runtime.v1.AttachRequest`. */
export interface CriAttachRequest {
  /** The container to attach to. */
  container_id: string;
  /** Stream the client's stdin to the main process (it must have been created with `stdin`). */
  stdin?: boolean;
  /** The client wants a terminal: stdout and stderr come merged on stdout. */
  tty?: boolean;
  /** Stream the main process's stdout. */
  stdout?: boolean;
  /** Stream the main process's stderr (not with `tty`). */
  stderr?: boolean;
}

/** `runtime.v1.PortForwardRequest`. */
export interface CriPortForwardRequest {
  /** The pod whose network the ports are in. */
  pod_sandbox_id: string;
  /** The TCP ports inside the pod. */
  port?: number[];
}

type Pending =
  | { kind: "exec"; containerId: string; request: CriExecRequest }
  | { kind: "attach"; containerId: string; request: CriAttachRequest }
  | { kind: "portforward"; netns: string; ports: number[] };

/** Options for {@linkcode StreamingServer.listen}. */
export interface StreamingServerOptions {
  /** `host:port` to listen on; `127.0.0.1:0` (a free port) when unset. */
  address?: string;
  /** How long a returned URL stays usable, in milliseconds; one minute when unset. */
  tokenTtlMs?: number;
}

function parseAddress(address: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(address);
  const port = Number(m?.[2]);
  if (!m || !(port >= 0 && port < 65536)) {
    throw new ValidationError(`--stream-address must be HOST:PORT, got '${address}'`, "stream");
  }
  return { hostname: m[1].replace(/^\[|\]$/g, ""), port };
}

function checkStreams(
  request: { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean },
) {
  if (!request.stdin && !request.stdout && !request.stderr) {
    throw new ValidationError("one of stdin, stdout and stderr must be set", "stdout");
  }
  if (request.tty && request.stderr) {
    throw new ValidationError(
      "tty and stderr cannot both be set: a terminal has one output",
      "stderr",
    );
  }
}

/**
 * The streaming server behind `Exec`, `Attach` and `PortForward`.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { CriRuntime, openBoxRuntime, StreamingServer } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * const streaming = StreamingServer.listen(new CriRuntime(boxes, "/tmp/a3s"));
 * console.log(streaming.baseUrl);
 * await streaming.close();
 * ```
 */
export class StreamingServer {
  readonly #backend: StreamingBackend;
  readonly #tokens: StreamTokens<Pending>;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sockets = new Set<WebSocket>();
  readonly #sessions = new Set<Promise<void>>();
  /** `http://host:port`, the prefix of every URL this server hands out. */
  readonly baseUrl: string;

  private constructor(backend: StreamingBackend, options: StreamingServerOptions) {
    this.#backend = backend;
    this.#tokens = new StreamTokens({ ttlMs: options.tokenTtlMs });
    const { hostname, port } = parseAddress(options.address ?? "127.0.0.1:0");
    this.#server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (request) => this.#handle(request),
    );
    const addr = this.#server.addr;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.baseUrl = `http://${host}:${addr.port}`;
  }

  /** Starts a streaming server for `backend`. */
  static listen(backend: StreamingBackend, options: StreamingServerOptions = {}): StreamingServer {
    return new StreamingServer(backend, options);
  }

  /** `Exec`: checks the request and the container; returns the URL to stream it from. */
  async exec(request: CriExecRequest): Promise<{ url: string }> {
    if (!request.cmd?.length) throw new ValidationError("cmd is required", "cmd");
    checkStreams(request);
    const containerId = await this.#backend.runningContainer(request.container_id);
    const token = this.#tokens.issue({ kind: "exec", containerId, request });
    return { url: `${this.baseUrl}/exec/${token}` };
  }

  /** `Attach`: checks the request and the container; returns the URL to stream it from. */
  async attach(request: CriAttachRequest): Promise<{ url: string }> {
    checkStreams(request);
    const containerId = await this.#backend.runningContainer(request.container_id);
    const token = this.#tokens.issue({ kind: "attach", containerId, request });
    return { url: `${this.baseUrl}/attach/${token}` };
  }

  /** `PortForward`: checks the pod and ports; returns the URL to stream them from. */
  async portForward(request: CriPortForwardRequest): Promise<{ url: string }> {
    const ports = (request.port ?? []).map(Number);
    for (const port of ports) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new ValidationError(`port ${port} is not a TCP port`, "port");
      }
    }
    const netns = await this.#backend.podNetns(request.pod_sandbox_id);
    const token = this.#tokens.issue({ kind: "portforward", netns, ports });
    return { url: `${this.baseUrl}/portforward/${token}` };
  }

  #handle(request: Request): Response {
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec(new URL(request.url).pathname);
    if (!m) return Response.json({ error: "not found" }, { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // SPDY (`Upgrade: SPDY/3.1`) is the other transport clients may ask for; box speaks only
      // WebSocket, and saying so plainly beats a hung upgrade.
      return Response.json(
        { error: "box's streaming server speaks WebSocket (channel.k8s.io) only" },
        { status: 400 },
      );
    }
    const pending = this.#tokens.take(m[2]);
    if (!pending || pending.kind !== m[1]) {
      return Response.json({ error: "unknown or expired streaming token" }, { status: 404 });
    }
    const protocols = pending.kind === "portforward"
      ? PORTFORWARD_PROTOCOLS
      : REMOTECOMMAND_PROTOCOLS;
    const protocol = negotiateProtocol(request.headers.get("sec-websocket-protocol"), protocols);
    if (!protocol) {
      return Response.json(
        { error: `no supported subprotocol offered; use one of ${protocols.join(", ")}` },
        { status: 400 },
      );
    }
    const { socket, response } = Deno.upgradeWebSocket(request, { protocol: protocol.name });
    this.#sockets.add(socket);
    socket.addEventListener("close", () => this.#sockets.delete(socket));
    let session: Promise<void>;
    if (pending.kind === "portforward") {
      const channels = new ChannelSocket(socket, protocol, pending.ports.map((_, i) => 2 * i));
      session = this.#portForward(channels, pending.netns, pending.ports, request);
    } else {
      const channels = new ChannelSocket(socket, protocol, [Channel.stdin, Channel.resize]);
      session = pending.kind === "exec"
        ? this.#exec(channels, pending.containerId, pending.request)
        : this.#attach(channels, pending.containerId, pending.request);
    }
    const tracked = session.catch(() => {}).finally(() => this.#sessions.delete(tracked));
    this.#sessions.add(tracked);
    return response;
  }

  /** Tells the client the streams are up, as the kubelet does: an empty frame on the first. */
  async #announce(channels: ChannelSocket, request: { stdout?: boolean; stderr?: boolean }) {
    await channels.opened;
    const first = request.stdout ? Channel.stdout : request.stderr ? Channel.stderr : Channel.error;
    await channels.send(first, new Uint8Array());
  }

  async #finish(channels: ChannelSocket, exitCode: number | undefined): Promise<void> {
    const status = exitCode === undefined
      ? undefined
      : exitStatusFrame(channels.protocol, exitCode);
    if (status) await channels.send(Channel.error, status);
    await channels.close();
  }

  async #fail(channels: ChannelSocket, error: unknown): Promise<void> {
    await channels.opened.catch(() => {});
    const message = error instanceof Error ? error.message : String(error);
    await channels.send(Channel.error, failureFrame(channels.protocol, message));
    await channels.close();
  }

  async #exec(channels: ChannelSocket, containerId: string, request: CriExecRequest) {
    let process: ExecProcess;
    try {
      await channels.opened;
      process = await this.#backend.execInContainer(containerId, request.cmd, !!request.tty);
    } catch (error) {
      return await this.#fail(channels, error);
    }
    // A client that goes away ends its command, as closing a terminal would.
    channels.closed.then(() => process.kill(9).catch(() => {}));
    await this.#announce(channels, request);
    const input = request.stdin
      ? channels.inbound(Channel.stdin).pipeTo(process.stdin).catch(() => {})
      : process.stdin.close().catch(() => {});
    const resizes = this.#resizes(channels, process);
    const outputs = [
      request.stdout
        ? channels.pump(Channel.stdout, process.stdout)
        : process.stdout.cancel().catch(() => {}),
      request.stderr
        ? channels.pump(Channel.stderr, process.stderr)
        : process.stderr.cancel().catch(() => {}),
    ];
    const status = await process.status;
    await Promise.all(outputs);
    await this.#finish(channels, status.exitCode);
    await Promise.all([input, resizes]);
  }

  async #resizes(channels: ChannelSocket, process: ExecProcess): Promise<void> {
    const reader = channels.inbound(Channel.resize).getReader();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !value) return;
      const size = parseResize(value);
      if (size && process.resize) await process.resize(size.rows, size.cols).catch(() => {});
    }
  }

  async #attach(channels: ChannelSocket, containerId: string, request: CriAttachRequest) {
    const detached = new AbortController();
    channels.closed.then(() => detached.abort());
    let attached: AttachedContainer;
    try {
      await channels.opened;
      attached = await this.#backend.attachContainer(containerId, detached.signal);
      if (request.stdin && !attached.stdin) {
        throw new A3sError(
          "no_stdin",
          "the container was not created with stdin: there is nothing to attach input to",
          { status: 409 },
        );
      }
    } catch (error) {
      return await this.#fail(channels, error);
    }
    await this.#announce(channels, request);
    const input = request.stdin && attached.stdin
      ? this.#attachInput(channels, attached.stdin)
      : Promise.resolve();
    for await (const chunk of attached.output) {
      if (channels.isClosed) break;
      const channel = request.tty || chunk.stream === "stdout" ? Channel.stdout : Channel.stderr;
      const wanted = channel === Channel.stdout ? request.stdout : request.stderr;
      if (wanted) await channels.send(channel, chunk.data);
    }
    if (!channels.isClosed) await this.#finish(channels, await attached.exitCode());
    await input;
  }

  async #attachInput(
    channels: ChannelSocket,
    stdin: NonNullable<AttachedContainer["stdin"]>,
  ): Promise<void> {
    const reader = channels.inbound(Channel.stdin).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await stdin.write(value);
      }
    } catch {
      // The main process exited and its stdin is gone: nothing more to deliver.
    } finally {
      await stdin.detach().catch(() => {});
    }
  }

  async #portForward(
    channels: ChannelSocket,
    netns: string,
    allowed: number[],
    request: Request,
  ): Promise<void> {
    await channels.opened;
    // A WebSocket client names its ports in the query (`?port=80&port=8080`); they must be among
    // those the PortForward call was made for, when it named any.
    const query = new URL(request.url).searchParams.getAll("port").flatMap((p) => p.split(","));
    const ports = query.length ? query.map(Number) : allowed;
    const refused = ports.find((p) => allowed.length > 0 && !allowed.includes(p));
    if (refused !== undefined || ports.length === 0 || ports.length !== allowed.length) {
      await channels.send(
        1,
        new TextEncoder().encode(
          refused !== undefined
            ? `port ${refused} was not part of the PortForward request`
            : "the ports in the query must match those of the PortForward request",
        ),
      );
      return await channels.close();
    }
    await Promise.all(ports.map(async (port, i) => {
      const data = 2 * i;
      const error = data + 1;
      await channels.send(data, portPrefix(port));
      await channels.send(error, portPrefix(port));
      const result = await dialInNetns(
        netns,
        port,
        channels.inbound(data),
        (chunk) => channels.send(data, chunk),
      );
      if (result.error) {
        await channels.send(
          error,
          new TextEncoder().encode(`error forwarding port ${port} to pod: ${result.error}`),
        );
      }
    }));
    await channels.close();
  }

  /** Stops listening and ends every open stream. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      try {
        socket.close(1001, "server shutting down");
      } catch {
        // Already closing.
      }
    }
    await Promise.all([...this.#sessions]);
    await this.#server.shutdown();
  }
}
