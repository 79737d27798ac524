/**
 * A server-side WebSocket seen as numbered channels: what the client sends on a channel arrives
 * on that channel's readable stream (buffered from the first frame, so nothing sent before a
 * command starts is lost), and `send` writes a frame, waiting while the socket's send buffer is
 * full so a fast command cannot grow memory without bound.
 */
import { decodeFrame, encodeFrame, type NegotiatedProtocol } from "./remotecommand.ts";

/** The send buffer above which `send` waits for the socket to drain. */
const HIGH_WATER_BYTES = 1 << 20;

/** Channels over one WebSocket. */
export class ChannelSocket {
  readonly socket: WebSocket;
  readonly protocol: NegotiatedProtocol;
  /** Resolves once the socket is open. */
  readonly opened: Promise<void>;
  /** Resolves once the socket closed, from either side. */
  readonly closed: Promise<void>;
  readonly #inbound = new Map<number, ReadableStreamDefaultController<Uint8Array>>();
  readonly #streams = new Map<number, ReadableStream<Uint8Array>>();
  #isClosed = false;

  constructor(socket: WebSocket, protocol: NegotiatedProtocol, inboundChannels: number[]) {
    this.socket = socket;
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
    this.opened = new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("close", () => reject(new Error("socket closed before it opened")));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", () => {
        this.#isClosed = true;
        this.#endAll();
        resolve();
      });
    });
    socket.addEventListener("message", (event) => {
      const frame = decodeFrame(protocol, event.data as ArrayBuffer | string);
      if (!frame) return;
      const controller = this.#inbound.get(frame.channel);
      if (!controller) return;
      if (frame.close) {
        this.#end(frame.channel);
        return;
      }
      controller.enqueue(frame.data.slice());
    });
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

  #endAll(): void {
    for (const channel of [...this.#inbound.keys()]) this.#end(channel);
  }

  /** What the client sends on `channel`; ends on v5's close frame or when the socket closes. */
  inbound(channel: number): ReadableStream<Uint8Array> {
    const stream = this.#streams.get(channel);
    if (!stream) throw new Error(`channel ${channel} is not an inbound channel`);
    return stream;
  }

  /** Whether the socket has closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Sends `data` on `channel`; a no-op once the socket closed. */
  async send(channel: number, data: Uint8Array): Promise<void> {
    while (!this.#isClosed && this.socket.bufferedAmount > HIGH_WATER_BYTES) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.#isClosed || this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(encodeFrame(this.protocol, channel, data));
  }

  /** Copies a stream onto a channel until it ends or the socket closes. */
  async pump(channel: number, from: ReadableStream<Uint8Array>): Promise<void> {
    const reader = from.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.#isClosed) break;
        if (value.length > 0) await this.send(channel, value);
      }
    } finally {
      if (this.#isClosed) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }

  /** Closes the socket normally, once what was sent has gone out. */
  async close(): Promise<void> {
    for (let i = 0; i < 200 && !this.#isClosed && this.socket.bufferedAmount > 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!this.#isClosed && this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
  }
}
