/**
 * The channel protocol over a server-side WebSocket: what the client sends on a channel arrives
 * on that channel's readable stream (buffered from the first frame, so nothing sent before a
 * command starts is lost), and `send` writes a frame, waiting while the socket's send buffer is
 * full so a fast command cannot grow memory without bound.
 */
import { decodeFrame, encodeFrame, type NegotiatedProtocol } from "./remotecommand.ts";
import { endedStream, type StreamChannels } from "./stream_channels.ts";

/** The send buffer above which `send` waits for the socket to drain. */
const HIGH_WATER_BYTES = 1 << 20;
const OPEN = 1;

/** The part of a WebSocket (the `ws` package's, or the web's) that channels use. */
export interface MessageSocket {
  /** How binary messages arrive; set to `arraybuffer`. */
  binaryType: string;
  /** 1 while open. */
  readonly readyState: number;
  /** Bytes queued but not yet sent. */
  readonly bufferedAmount: number;
  /** Sends one message. */
  send(data: Uint8Array | string): void;
  /** Closes the socket. */
  close(code?: number, reason?: string): void;
  /** Listens for `message` and `close`. */
  addEventListener(type: "message" | "close", listener: (event: { data?: unknown }) => void): void;
}

/** Channels over one open WebSocket. */
export class ChannelSocket implements StreamChannels {
  readonly #socket: MessageSocket;
  readonly protocol: NegotiatedProtocol;
  readonly closed: Promise<void>;
  readonly #inbound = new Map<number, ReadableStreamDefaultController<Uint8Array>>();
  readonly #streams = new Map<number, ReadableStream<Uint8Array>>();
  #isClosed = false;

  /** Wraps an open socket; `inboundChannels` are those the client may send on. */
  constructor(socket: MessageSocket, protocol: NegotiatedProtocol, inboundChannels: number[]) {
    this.#socket = socket;
    this.protocol = protocol;
    socket.binaryType = "arraybuffer";
    for (const channel of inboundChannels) {
      this.#streams.set(
        channel,
        new ReadableStream<Uint8Array>({
          start: (controller) => void this.#inbound.set(channel, controller),
        }),
      );
    }
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", () => {
        this.#isClosed = true;
        for (const channel of [...this.#inbound.keys()]) this.#end(channel);
        resolve();
      });
    });
    socket.addEventListener("message", (event) => {
      const data = event.data;
      const frame = decodeFrame(
        protocol,
        typeof data === "string" ? data : data instanceof ArrayBuffer ? data : new ArrayBuffer(0),
      );
      if (!frame) return;
      const controller = this.#inbound.get(frame.channel);
      if (!controller) return;
      if (frame.close) return this.#end(frame.channel);
      controller.enqueue(frame.data.slice());
    });
  }

  get version(): number {
    return this.protocol.version;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  #end(channel: number): void {
    const controller = this.#inbound.get(channel);
    if (!controller) return;
    this.#inbound.delete(channel);
    try {
      controller.close();
    } catch {
      // Already closed or cancelled by its reader.
    }
  }

  inbound(channel: number): ReadableStream<Uint8Array> {
    return this.#streams.get(channel) ?? endedStream();
  }

  async send(channel: number, data: Uint8Array): Promise<void> {
    while (!this.#isClosed && this.#socket.bufferedAmount > HIGH_WATER_BYTES) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.#isClosed || this.#socket.readyState !== OPEN) return;
    this.#socket.send(encodeFrame(this.protocol, channel, data));
  }

  async close(): Promise<void> {
    for (let i = 0; i < 200 && !this.#isClosed && this.#socket.bufferedAmount > 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!this.#isClosed && this.#socket.readyState === OPEN) this.#socket.close(1000);
  }
}
