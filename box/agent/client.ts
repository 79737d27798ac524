/**
 * The host side of the guest agent protocol: exec with separate stdout and stderr streams,
 * stdin, signals, a pty, file copy and a health check, multiplexed by stream id over one frame
 * link (a unix socket or a virtio-serial port). A closed link fails every pending call at once.
 */
import { encodeFrame, type Frame, FrameDecoder, FrameType } from "@a3s/wasm/frame";
import { A3sError } from "@a3s/common";
import type { ExecProcess, ExecRequest, ExitStatus } from "../types.ts";
import {
  encodeContainerStart,
  encodeExecRequest,
  type GuestContainerRequest,
  parseExit,
} from "./protocol.ts";
import { concatBytes } from "../_bytes.ts";

/** A byte link to an agent. */
export interface AgentLink {
  /** Bytes from the agent. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the agent. */
  writable: WritableStream<Uint8Array>;
  /** Closes the link both ways. */
  close(): void;
}

interface StreamHandler {
  data(flags: number, payload: Uint8Array): void;
  control(text: string): void;
  error(error: A3sError): void;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The link broke or the agent died: every call in flight ends with this. */
export class AgentClosedError extends A3sError {
  /** An `agent_unavailable` error (HTTP 502) saying why the link closed. */
  constructor(detail: string) {
    super("agent_unavailable", `box agent connection closed: ${detail}`, { status: 502 });
  }
}

/**
 * One connection to a box's agent.
 *
 * @example
 * ```ts
 * import { AgentClient } from "@a3s/box";
 * const conn = await Deno.connect({ transport: "unix", path: "/run/box/agent.sock" });
 * const agent = new AgentClient(conn);
 * const result = await agent.run({ command: ["echo", "hi"] });
 * agent.close();
 * ```
 */
export class AgentClient {
  readonly #link: AgentLink;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #streams = new Map<number, StreamHandler>();
  readonly #heartbeats = new Map<string, () => void>();
  #nextStream = 1;
  #closed?: AgentClosedError;
  #writes: Promise<void> = Promise.resolve();
  /** Resolves when the link has closed, for whatever reason. */
  readonly closed: Promise<void>;

  /** Starts reading frames from `link`; the client owns the link from then on. */
  constructor(link: AgentLink) {
    this.#link = link;
    this.#writer = link.writable.getWriter();
    this.closed = this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const frames = new FrameDecoder({ copyPayloads: true });
    let reason = "end of stream";
    try {
      for await (const chunk of this.#link.readable) {
        for (const frame of frames.push(chunk)) this.#dispatch(frame);
      }
      frames.end();
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    this.#fail(new AgentClosedError(reason));
  }

  #dispatch(frame: Frame): void {
    if (frame.type === FrameType.Heartbeat) {
      const key = decoder.decode(frame.payload);
      this.#heartbeats.get(key)?.();
      this.#heartbeats.delete(key);
      return;
    }
    const handler = this.#streams.get(frame.streamId);
    if (!handler) return;
    if (frame.type === FrameType.Data) handler.data(frame.flags, frame.payload);
    else if (frame.type === FrameType.Control) handler.control(decoder.decode(frame.payload));
    else if (frame.type === FrameType.Error) {
      handler.error(new A3sError("exec_failed", decoder.decode(frame.payload), { status: 400 }));
    }
  }

  #fail(error: AgentClosedError): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const handler of this.#streams.values()) handler.error(error);
    this.#streams.clear();
    this.#heartbeats.clear();
    try {
      this.#link.close();
    } catch { /* already closed */ }
  }

  #send(type: FrameType, streamId: number, payload?: Uint8Array, flags = 0): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    const wire = encodeFrame({ type, streamId, payload, flags });
    this.#writes = this.#writes.then(() => this.#writer.write(wire)).catch((error) => {
      this.#fail(new AgentClosedError(String(error)));
      throw this.#closed;
    });
    return this.#writes;
  }

  #open(handler: StreamHandler): number {
    if (this.#closed) throw this.#closed;
    const id = this.#nextStream++;
    this.#streams.set(id, handler);
    return id;
  }

  /** Resolves when the agent answers a heartbeat; rejects after `timeoutMs` or a closed link. */
  async health(timeoutMs = 2000): Promise<void> {
    const key = crypto.randomUUID();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = new Promise<void>((resolve, reject) => {
      this.#heartbeats.set(key, resolve);
      timer = setTimeout(
        () => reject(new A3sError("agent_timeout", `box agent did not answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.closed.then(() => reject(this.#closed));
    });
    // Observed here too, so a failed send (which throws first) leaves no unhandled rejection.
    answered.catch(() => {});
    try {
      await this.#send(FrameType.Heartbeat, 0, encoder.encode(key));
      await answered;
    } finally {
      clearTimeout(timer);
      this.#heartbeats.delete(key);
    }
  }

  /**
   * Starts a command and returns its streams; with `container`, inside that guest container of
   * the pod VM this agent runs.
   */
  async exec(request: ExecRequest, container?: string): Promise<ExecProcess> {
    let stdoutCtl!: ReadableStreamDefaultController<Uint8Array>;
    let stderrCtl!: ReadableStreamDefaultController<Uint8Array>;
    const stdout = new ReadableStream<Uint8Array>({ start: (c) => void (stdoutCtl = c) });
    const stderr = new ReadableStream<Uint8Array>({ start: (c) => void (stderrCtl = c) });
    const { promise: status, resolve, reject } = Promise.withResolvers<ExitStatus>();
    status.catch(() => {});
    let done = false;
    const finish = (error?: A3sError, exit?: ExitStatus) => {
      if (done) return;
      done = true;
      this.#streams.delete(id);
      for (const ctl of [stdoutCtl, stderrCtl]) {
        try {
          if (error) ctl.error(error);
          else ctl.close();
        } catch { /* the reader cancelled */ }
      }
      if (error) reject(error);
      else resolve(exit!);
    };
    const id = this.#open({
      data(flags, payload) {
        try {
          (flags === 2 ? stderrCtl : stdoutCtl).enqueue(payload);
        } catch { /* the reader cancelled; keep draining the link */ }
      },
      control(text) {
        const exit = parseExit(text);
        if (exit) finish(undefined, exit);
      },
      error: (error) => finish(error),
    });
    await this.#send(FrameType.Control, id, encodeExecRequest(request, container));
    // Input the command exits without reading is dropped, as a pipe to an exited reader drops
    // it: the send in flight when the exit arrives fails as the link closes, and is no error.
    const send = (type: FrameType, payload?: Uint8Array) =>
      done ? undefined : this.#send(type, id, payload).catch((error) => {
        if (!done) throw error;
      });
    const stdin = new WritableStream<Uint8Array>({
      write: (chunk) => send(FrameType.Data, chunk),
      close: () => send(FrameType.Close),
    });
    return {
      stdin,
      stdout,
      stderr,
      status,
      kill: (signal = 15) =>
        done ? Promise.resolve() : this.#send(FrameType.Control, id, encoder.encode(`K${signal}`)),
      resize: (rows, cols) =>
        done
          ? Promise.resolve()
          : this.#send(FrameType.Control, id, encoder.encode(`W${rows}x${cols}`)),
    };
  }

  /** Runs a command to completion with `stdin` (empty unless given), collecting its output. */
  async run(
    request: ExecRequest,
    stdin?: Uint8Array,
  ): Promise<ExitStatus & { stdout: Uint8Array; stderr: Uint8Array }> {
    const process = await this.exec(request);
    const writer = process.stdin.getWriter();
    if (stdin?.length) await writer.write(stdin);
    await writer.close();
    const [stdout, stderr, status] = await Promise.all([
      new Response(process.stdout).bytes(),
      new Response(process.stderr).bytes(),
      process.status,
    ]);
    return { ...status, stdout, stderr };
  }

  /** Writes `data` to `path` inside the box. */
  async put(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const id = this.#open({
      data() {},
      control: (text) => {
        this.#streams.delete(id);
        const exit = parseExit(text);
        if (exit?.exitCode === 0) resolve();
        else reject(new A3sError("copy_failed", `writing ${path} in the box failed`));
      },
      error: (error) => {
        this.#streams.delete(id);
        reject(error);
      },
    });
    await this.#send(
      FrameType.Control,
      id,
      encoder.encode(`P${mode.toString(8)}\0${path}`),
    );
    const chunk = 256 * 1024;
    for (let offset = 0; offset < data.length; offset += chunk) {
      await this.#send(FrameType.Data, id, data.subarray(offset, offset + chunk));
    }
    await this.#send(FrameType.Close, id);
    return promise;
  }

  /** Reads `path` from inside the box. */
  async get(path: string): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    const id = this.#open({
      data: (_flags, payload) => parts.push(payload),
      control: (text) => {
        this.#streams.delete(id);
        if (parseExit(text)?.exitCode !== 0) {
          reject(new A3sError("copy_failed", `reading ${path} in the box failed`));
          return;
        }
        resolve(concatBytes(...parts));
      },
      error: (error) => {
        this.#streams.delete(id);
        reject(error);
      },
    });
    await this.#send(FrameType.Control, id, encoder.encode(`G${path}`));
    return promise;
  }

  /**
   * Starts a guest container in this agent's pod VM. Resolves once its main process runs, with
   * that process's pid in the VM and, for an interactive container, its stdin (open while this
   * client is).
   */
  async startContainer(
    request: GuestContainerRequest,
  ): Promise<{ pid: number; stdin?: WritableStream<Uint8Array> }> {
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const id = this.#open({
      data() {},
      control: (text) => {
        const pid = /^c(\d+)$/.exec(text);
        if (pid) resolve(Number(pid[1]));
      },
      error: (error) => {
        this.#streams.delete(id);
        reject(error);
      },
    });
    await this.#send(FrameType.Control, id, encodeContainerStart(request));
    const pid = await promise;
    if (!request.interactive) {
      this.#streams.delete(id);
      return { pid };
    }
    const stdin = new WritableStream<Uint8Array>({
      write: (chunk) => this.#send(FrameType.Data, id, chunk),
      close: () => this.#send(FrameType.Close, id),
    });
    return { pid, stdin };
  }

  /**
   * Sends a guest container request that the agent answers with `x0 0` (`S<signal> <id>`,
   * `T<rows>x<cols> <id>`, `D<id>`); rejects with the agent's reason otherwise.
   */
  async containerControl(message: string): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const id = this.#open({
      data() {},
      control: (text) => {
        this.#streams.delete(id);
        if (parseExit(text)?.exitCode === 0) resolve();
        else reject(new A3sError("exec_failed", `box agent refused ${message[0]}: ${text}`));
      },
      error: (error) => {
        this.#streams.delete(id);
        reject(error);
      },
    });
    await this.#send(FrameType.Control, id, encoder.encode(message));
    return promise;
  }

  /** Closes the link; calls in flight fail. */
  close(): void {
    this.#fail(new AgentClosedError("closed by the host"));
  }
}
