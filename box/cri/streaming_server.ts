/**
 * The CRI streaming server: `Exec`, `Attach` and `PortForward` answer with a URL on this server
 * (`/exec/<token>`, `/attach/<token>`, `/portforward/<token>`), and the kubelet, kubectl or
 * crictl connects to it and upgrades the connection to one of Kubernetes' two stream
 * transports: WebSocket with the channel protocol (`remotecommand.ts`), or SPDY/3.1
 * (`spdy.ts`), which the kubelet itself still uses towards the runtime. The request stays here
 * under a single-use, expiring token; the URL carries nothing else. It listens on 127.0.0.1
 * unless told otherwise, as containerd's does, since the kubelet runs on the same node.
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import * as ws from "ws";
import { A3sError, ValidationError } from "@a3s/common";
import type { ExecProcess } from "../types.ts";
import { ChannelSocket, type MessageSocket } from "./channel_socket.ts";
import {
  Channel,
  exitStatusFrame,
  failureFrame,
  type NegotiatedProtocol,
  negotiateProtocol,
  parseResize,
  PORTFORWARD_PROTOCOLS,
  portPrefix,
  REMOTECOMMAND_PROTOCOLS,
  SPDY_PORTFORWARD_PROTOCOL,
  SPDY_REMOTECOMMAND_PROTOCOLS,
} from "./remotecommand.ts";
import { StreamTokens } from "./stream_tokens.ts";
import { dialInNetns } from "./netns_dial.ts";
import { pumpInto, type StreamChannels } from "./stream_channels.ts";
import { SpdyConnection } from "./spdy.ts";
import {
  expectedStreams,
  type ForwardPair,
  portForwardStreams,
  SpdyChannels,
} from "./spdy_channels.ts";

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
  /** Resizes the main process's terminal (containers created with `tty`). */
  resize?(rows: number, cols: number): Promise<void>;
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

/** The part of the `ws` package's server box uses (typed here: its own types pull in Node's
 * globals, which would retype `setTimeout` for every module checked with box). */
interface UpgradeServer {
  handleUpgrade(
    request: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    done: (socket: unknown) => void,
  ): void;
  close(): void;
}

const WebSocketServer = (ws as unknown as {
  WebSocketServer: new (options: {
    noServer: true;
    perMessageDeflate: false;
    handleProtocols?: (offered: Set<string>, request: http.IncomingMessage) => string | false;
  }) => UpgradeServer;
}).WebSocketServer;

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
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
 * const streaming = await StreamingServer.listen(new CriRuntime(boxes, "/tmp/a3s"));
 * console.log(streaming.baseUrl);
 * await streaming.close();
 * ```
 */
export class StreamingServer {
  readonly #backend: StreamingBackend;
  readonly #tokens: StreamTokens<Pending>;
  readonly #server: http.Server;
  /** The subprotocol chosen for each WebSocket upgrade, read back by the `ws` handshake. */
  readonly #chosen = new WeakMap<http.IncomingMessage, string>();
  readonly #websockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (_offered, request) => this.#chosen.get(request) ?? false,
  });
  readonly #connections = new Set<Duplex>();
  readonly #sessions = new Set<Promise<void>>();
  /** `http://host:port`, the prefix of every URL this server hands out. */
  readonly baseUrl: string;

  private constructor(backend: StreamingBackend, server: http.Server, tokenTtlMs?: number) {
    this.#backend = backend;
    this.#tokens = new StreamTokens({ ttlMs: tokenTtlMs });
    this.#server = server;
    const addr = server.address() as AddressInfo;
    const host = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
    this.baseUrl = `http://${host}:${addr.port}`;
    server.on("request", (_request: http.IncomingMessage, response: http.ServerResponse) => {
      // Every stream starts with an upgrade; a plain request has nothing to get here.
      response.writeHead(400, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ error: "streaming URLs need an upgrade: WebSocket or SPDY/3.1" }),
      );
    });
    server.on("upgrade", (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#connections.add(socket);
      socket.on("close", () => this.#connections.delete(socket));
      socket.on("error", () => {});
      try {
        this.#upgrade(request, socket, new Uint8Array(head));
      } catch (error) {
        refuse(socket, 500, (error as Error).message);
      }
    });
  }

  /** Starts a streaming server for `backend`; resolves once it listens. */
  static async listen(
    backend: StreamingBackend,
    options: StreamingServerOptions = {},
  ): Promise<StreamingServer> {
    const { hostname, port } = parseAddress(options.address ?? "127.0.0.1:0");
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new StreamingServer(backend, server, options.tokenTtlMs);
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

  #track(session: Promise<void>): void {
    const tracked = session.catch(() => {}).finally(() => this.#sessions.delete(tracked));
    this.#sessions.add(tracked);
  }

  #upgrade(request: http.IncomingMessage, socket: Duplex, head: Uint8Array): void {
    const url = new URL(request.url ?? "/", "http://streaming");
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
    if (!m) return refuse(socket, 404, "not found");
    const transport = String(request.headers.upgrade ?? "").toLowerCase();
    if (transport !== "websocket" && transport !== "spdy/3.1") {
      return refuse(socket, 400, `cannot upgrade to '${transport}': use websocket or SPDY/3.1`);
    }
    const pending = this.#tokens.take(m[2]);
    if (!pending || pending.kind !== m[1]) {
      return refuse(socket, 404, "unknown or expired streaming token");
    }
    if (transport === "spdy/3.1") return this.#upgradeSpdy(request, socket, head, pending);
    const protocols = pending.kind === "portforward"
      ? PORTFORWARD_PROTOCOLS
      : REMOTECOMMAND_PROTOCOLS;
    const offered = request.headers["sec-websocket-protocol"];
    const protocol = negotiateProtocol(
      Array.isArray(offered) ? offered.join(",") : offered ?? null,
      protocols,
    );
    if (!protocol) {
      return refuse(
        socket,
        400,
        `no supported subprotocol offered; use one of ${protocols.join(", ")}`,
      );
    }
    this.#chosen.set(request, protocol.name);
    this.#websockets.handleUpgrade(request, socket, Buffer.from(head), (upgraded) => {
      const open = upgraded as MessageSocket;
      this.#track(this.#websocketSession(open, protocol, pending, url));
    });
  }

  #websocketSession(
    socket: MessageSocket,
    protocol: NegotiatedProtocol,
    pending: Pending,
    url: URL,
  ): Promise<void> {
    if (pending.kind === "portforward") {
      const channels = new ChannelSocket(socket, protocol, pending.ports.map((_, i) => 2 * i));
      return this.#websocketPortForward(channels, pending.netns, pending.ports, url);
    }
    const channels = new ChannelSocket(socket, protocol, [Channel.stdin, Channel.resize]);
    return pending.kind === "exec"
      ? this.#exec(channels, pending.containerId, pending.request)
      : this.#attach(channels, pending.containerId, pending.request);
  }

  #upgradeSpdy(request: http.IncomingMessage, socket: Duplex, head: Uint8Array, pending: Pending) {
    const header = request.headers["x-stream-protocol-version"];
    const offered = (Array.isArray(header) ? header.join(",") : header ?? "").split(",")
      .map((p) => p.trim()).filter(Boolean);
    const supported = pending.kind === "portforward"
      ? [SPDY_PORTFORWARD_PROTOCOL]
      : SPDY_REMOTECOMMAND_PROTOCOLS;
    // A client that names no protocol speaks the first one there was.
    const chosen = offered.length === 0
      ? supported.at(-1)!
      : supported.find((p) => offered.includes(p));
    if (!chosen) {
      return refuse(
        socket,
        403,
        `no supported stream protocol offered; use one of ${supported.join(", ")}`,
      );
    }
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
        `X-Stream-Protocol-Version: ${chosen}\r\n\r\n`,
    );
    if (pending.kind === "portforward") {
      const connection = new SpdyConnection(
        socket,
        head,
        portForwardStreams((pair) =>
          this.#track(this.#spdyForward(pending.netns, pending.ports, pair))
        ),
      );
      this.#track(connection.closed);
      return;
    }
    const version = chosen === "channel.k8s.io" ? 1 : Number(chosen[1]);
    const channels = new SpdyChannels(version, expectedStreams(pending.request, version));
    channels.bind(new SpdyConnection(socket, head, (stream) => channels.accept(stream)));
    this.#track((async () => {
      try {
        await channels.ready;
      } catch {
        return await channels.close();
      }
      if (pending.kind === "exec") await this.#exec(channels, pending.containerId, pending.request);
      else await this.#attach(channels, pending.containerId, pending.request);
    })());
  }

  /** Tells a WebSocket client the streams are up, as the kubelet does: an empty first frame. */
  async #announce(channels: StreamChannels, request: { stdout?: boolean; stderr?: boolean }) {
    const first = request.stdout ? Channel.stdout : request.stderr ? Channel.stderr : Channel.error;
    await channels.send(first, new Uint8Array());
  }

  async #finish(channels: StreamChannels, exitCode: number | undefined): Promise<void> {
    const status = exitCode === undefined ? undefined : exitStatusFrame(channels, exitCode);
    if (status) await channels.send(Channel.error, status);
    await channels.close();
  }

  async #fail(channels: StreamChannels, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    await channels.send(Channel.error, failureFrame(channels, message));
    await channels.close();
  }

  async #exec(channels: StreamChannels, containerId: string, request: CriExecRequest) {
    let process: ExecProcess;
    try {
      process = await this.#backend.execInContainer(containerId, request.cmd, !!request.tty);
    } catch (error) {
      return await this.#fail(channels, error);
    }
    // A client that goes away ends its command, as closing a terminal would.
    channels.closed.then(() => process.kill(9).catch(() => {}));
    await this.#announce(channels, request);
    const resized = { latest: Promise.resolve() };
    const input = !request.stdin
      ? process.stdin.close().catch(() => {})
      : request.tty
      ? afterResizes(channels.inbound(Channel.stdin), process.stdin, resized).catch(() => {})
      : channels.inbound(Channel.stdin).pipeTo(process.stdin).catch(() => {});
    const resizes = this.#resizes(channels, process, resized);
    const outputs = Promise.all([
      request.stdout
        ? pumpInto(channels, Channel.stdout, process.stdout)
        : process.stdout.cancel().catch(() => {}),
      request.stderr
        ? pumpInto(channels, Channel.stderr, process.stderr)
        : process.stderr.cancel().catch(() => {}),
    ]);
    // The output copies fail with the command when its box goes away mid-exec; that is reported
    // through the status below, and must not surface as an unhandled rejection.
    outputs.catch(() => {});
    let exitCode: number;
    try {
      exitCode = (await process.status).exitCode;
    } catch (error) {
      return await this.#fail(channels, error);
    }
    await outputs.catch(() => {});
    await this.#finish(channels, exitCode);
    await Promise.all([input, resizes]);
  }

  async #resizes(
    channels: StreamChannels,
    process: { resize?(rows: number, cols: number): Promise<void> },
    resized: { latest: Promise<void> } = { latest: Promise.resolve() },
  ): Promise<void> {
    const reader = channels.inbound(Channel.resize).getReader();
    let pending = "";
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !value) return;
      // Over SPDY sizes arrive as newline-separated JSON in a byte stream; over WebSocket one
      // a frame. Both read the same way.
      pending += new TextDecoder().decode(value);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      // A WebSocket frame holds one object with no newline after it.
      if (pending.trim().endsWith("}")) {
        lines.push(pending);
        pending = "";
      }
      for (const line of lines) {
        const size = parseResize(new TextEncoder().encode(line));
        if (size && process.resize) {
          resized.latest = process.resize(size.rows, size.cols).catch(() => {});
          await resized.latest;
        }
      }
    }
  }

  async #attach(channels: StreamChannels, containerId: string, request: CriAttachRequest) {
    const detached = new AbortController();
    channels.closed.then(() => detached.abort());
    let attached: AttachedContainer;
    try {
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
    const resizes = request.tty ? this.#resizes(channels, attached) : Promise.resolve();
    for await (const chunk of attached.output) {
      if (channels.isClosed) break;
      const channel = request.tty || chunk.stream === "stdout" ? Channel.stdout : Channel.stderr;
      const wanted = channel === Channel.stdout ? request.stdout : request.stderr;
      if (wanted) await channels.send(channel, chunk.data);
    }
    if (!channels.isClosed) await this.#finish(channels, await attached.exitCode());
    await Promise.all([input, resizes]);
  }

  async #attachInput(
    channels: StreamChannels,
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

  async #websocketPortForward(
    channels: ChannelSocket,
    netns: string,
    allowed: number[],
    url: URL,
  ): Promise<void> {
    // A WebSocket client names its ports in the query (`?port=80&port=8080`); they must be
    // those the PortForward call was made for, when it named any.
    const query = url.searchParams.getAll("port").flatMap((p) => p.split(","));
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

  async #spdyForward(netns: string, allowed: number[], pair: ForwardPair): Promise<void> {
    let failure: string | undefined;
    if (allowed.length > 0 && !allowed.includes(pair.port)) {
      failure = `port ${pair.port} was not part of the PortForward request`;
    } else {
      const result = await dialInNetns(
        netns,
        pair.port,
        pair.data.inbound,
        (chunk) => pair.data.write(chunk),
      );
      if (result.error) failure = `error forwarding port ${pair.port} to pod: ${result.error}`;
    }
    if (failure) await pair.error.write(new TextEncoder().encode(failure));
    await pair.error.close();
    await pair.data.close();
  }

  /** Stops listening and ends every open stream. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#connections) socket.destroy();
    this.#websockets.close();
    await Promise.all([...this.#sessions]);
    await closed;
  }
}

/**
 * Copies a terminal's input into `stdin`, each chunk after the resizes that came before it on
 * the wire are applied: kubectl sends the size and the first keystrokes together, and a shell
 * that read "stty size" before its terminal was resized answered for a 0x0 terminal. The demuxer
 * queues frames in the order they arrive, so one turn of the event loop lets the resize reader
 * take up any size queued before this chunk; then its resize is awaited.
 */
async function afterResizes(
  input: ReadableStream<Uint8Array>,
  stdin: WritableStream<Uint8Array>,
  resized: { latest: Promise<void> },
): Promise<void> {
  const writer = stdin.getWriter();
  try {
    for await (const chunk of input) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      await resized.latest;
      await writer.write(chunk);
    }
    await writer.close();
  } finally {
    writer.releaseLock();
  }
}
