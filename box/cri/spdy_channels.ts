/**
 * Kubernetes' streams over SPDY. For exec and attach the client opens one stream per channel,
 * named by its `streamType` header (`error`, `stdin`, `stdout`, `stderr`, `resize`); the session
 * starts once every stream the request implies is open. For port forwarding the client opens a
 * pair per connection (`error` and `data`, tied by `requestID` and naming the `port`), any
 * number of times over one SPDY connection.
 */
import type { SpdyConnection, SpdyStream } from "./spdy.ts";
import { Channel } from "./remotecommand.ts";
import { endedStream, type StreamChannels } from "./stream_channels.ts";

const STREAM_CHANNELS: Record<string, number> = {
  stdin: Channel.stdin,
  stdout: Channel.stdout,
  stderr: Channel.stderr,
  error: Channel.error,
  resize: Channel.resize,
};

/** How long a client has to open the streams its request implies (the kubelet's default). */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

/** The streams an exec or attach client opens for its request. */
export function expectedStreams(
  request: { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean },
  version: number,
): number[] {
  const channels: number[] = [Channel.error];
  if (request.stdin) channels.push(Channel.stdin);
  if (request.stdout) channels.push(Channel.stdout);
  if (request.stderr && !request.tty) channels.push(Channel.stderr);
  if (request.tty && version >= 3) channels.push(Channel.resize);
  return channels;
}

/** Exec or attach channels over one SPDY connection. */
export class SpdyChannels implements StreamChannels {
  readonly version: number;
  readonly #expected: number[];
  readonly #streams = new Map<number, SpdyStream>();
  #connection: SpdyConnection | undefined;
  #ready!: () => void;
  #gone!: (error: Error) => void;
  /**
   * Resolves once every expected stream is open; rejects after the creation timeout or when the
   * client goes away first.
   */
  readonly ready: Promise<void>;

  constructor(version: number, expected: number[]) {
    this.version = version;
    this.#expected = expected;
    const opened = new Promise<void>((resolve, reject) => {
      this.#ready = resolve;
      this.#gone = reject;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.ready = Promise.race([
      opened,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("the client did not open its streams in time")),
          STREAM_CREATION_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    this.ready.catch(() => {});
  }

  /** Ties the channels to their connection (made after this object, which it calls back). */
  bind(connection: SpdyConnection): void {
    this.#connection = connection;
    connection.closed.then(() => this.#gone(new Error("the client went away")));
  }

  /** Takes a stream the client opened; refuses unknown or repeated stream types. */
  accept(stream: SpdyStream): boolean {
    const channel = STREAM_CHANNELS[stream.headers.get("streamtype") ?? ""];
    if (channel === undefined || this.#streams.has(channel)) return false;
    this.#streams.set(channel, stream);
    if (this.#expected.every((c) => this.#streams.has(c))) this.#ready();
    return true;
  }

  get closed(): Promise<void> {
    return this.#connection?.closed ?? Promise.resolve();
  }

  get isClosed(): boolean {
    return this.#connection?.isClosed ?? true;
  }

  inbound(channel: number): ReadableStream<Uint8Array> {
    return this.#streams.get(channel)?.inbound ?? endedStream();
  }

  async send(channel: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    await this.#streams.get(channel)?.write(data);
  }

  async close(): Promise<void> {
    for (const stream of this.#streams.values()) await stream.close();
    await this.#connection?.close();
  }
}

/** One forwarded connection: its data and error streams. */
export interface ForwardPair {
  /** The port inside the pod. */
  port: number;
  /** Carries the connection's bytes both ways. */
  data: SpdyStream;
  /** Where a failure to connect is reported. */
  error: SpdyStream;
}

/**
 * Pairs port-forward streams as they arrive and hands each complete pair to `forward`. Streams
 * without a valid `port` are refused.
 */
export function portForwardStreams(
  forward: (pair: ForwardPair) => void,
): (stream: SpdyStream) => boolean {
  const waiting = new Map<string, { data?: SpdyStream; error?: SpdyStream }>();
  return (stream) => {
    const type = stream.headers.get("streamtype");
    const port = Number(stream.headers.get("port"));
    if (
      (type !== "data" && type !== "error") || !Number.isInteger(port) || port < 1 || port > 65535
    ) {
      return false;
    }
    // Older clients send no requestID; their pairs arrive one after the other per port.
    const key = stream.headers.get("requestid") ?? `port-${port}`;
    const pair = waiting.get(key) ?? {};
    if (pair[type]) return false;
    pair[type] = stream;
    if (pair.data && pair.error) {
      waiting.delete(key);
      forward({ port, data: pair.data, error: pair.error });
    } else {
      waiting.set(key, pair);
    }
    return true;
  };
}
