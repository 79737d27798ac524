/**
 * SPDY/3.1 as Kubernetes uses it for exec, attach and port-forward streams (the framing of
 * moby/spdystream, which the kubelet, kubectl and crictl speak): after an HTTP `Upgrade:
 * SPDY/3.1`, the client opens streams with SYN_STREAM frames whose headers say what each stream
 * is for, the server answers each with SYN_REPLY, and both sides send DATA frames, a FIN flag
 * closing their half. Header blocks are zlib-compressed with SPDY's dictionary, one compression
 * context per direction for the whole connection, so every block is inflated in order (even
 * those of frames box ignores). Kubernetes' peers do no flow control (they never send
 * WINDOW_UPDATE), so neither does this side.
 */
import zlib from "node:zlib";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { concatBytes } from "../_bytes.ts";

const VERSION = 3;
const FLAG_FIN = 0x01;
/** The largest DATA frame box writes: big enough to be cheap, small enough to interleave. */
const MAX_DATA = 64 * 1024;
/** The largest frame box accepts; anything larger is a broken or hostile peer. */
const MAX_FRAME = 16 * 1024 * 1024;

const enum FrameType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

const DICTIONARY_WORDS = (
  "options head post put delete trace accept accept-charset accept-encoding accept-language " +
  "accept-ranges age allow authorization cache-control connection content-base " +
  "content-encoding content-language content-length content-location content-md5 " +
  "content-range content-type date etag expect expires from host if-match if-modified-since " +
  "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma " +
  "proxy-authenticate proxy-authorization range referer retry-after server te trailer " +
  "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status " +
  "200+OK version HTTP/1.1 url public set-cookie keep-alive origin"
).split(" ").map((word) => word.replace("+", " ")); // "200 OK" is one word
const DICTIONARY_TAIL = "100101201202205206300302303304305306307402405406407408409410411412" +
  "413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved " +
  "Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server " +
  "Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct " +
  "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png," +
  "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript," +
  "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/**
 * The header compression dictionary of SPDY/3 (its draft's section 2.6.10.1): each common
 * header word with a 4-byte length in front, then common values run together.
 */
export const SPDY_DICTIONARY: Uint8Array = (() => {
  const parts: number[] = [];
  for (const word of DICTIONARY_WORDS) {
    parts.push(0, 0, 0, word.length, ...new TextEncoder().encode(word));
  }
  parts.push(...new TextEncoder().encode(DICTIONARY_TAIL));
  return Uint8Array.from(parts);
})();

/** Encodes a header block: a count, then length-prefixed lower-case names and values. */
export function encodeHeaderBlock(headers: Record<string, string>): Uint8Array {
  const encoder = new TextEncoder();
  const entries = Object.entries(headers).map((
    [k, v],
  ) => [encoder.encode(k.toLowerCase()), encoder.encode(v)]);
  let size = 4;
  for (const [k, v] of entries) size += 8 + k.length + v.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, entries.length);
  let at = 4;
  for (const [k, v] of entries) {
    view.setUint32(at, k.length);
    out.set(k, at + 4);
    at += 4 + k.length;
    view.setUint32(at, v.length);
    out.set(v, at + 4);
    at += 4 + v.length;
  }
  return out;
}

/** Decodes a header block; names lower-cased, a value's NUL-separated parts joined by ", ". */
export function decodeHeaderBlock(block: Uint8Array): Map<string, string> {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const decoder = new TextDecoder();
  const headers = new Map<string, string>();
  const read = (at: number) => {
    const length = view.getUint32(at);
    if (at + 4 + length > block.length) throw new Error("SPDY header block is truncated");
    return { text: decoder.decode(block.subarray(at + 4, at + 4 + length)), next: at + 4 + length };
  };
  const count = view.getUint32(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const name = read(at);
    const value = read(name.next);
    headers.set(name.text.toLowerCase(), value.text.split("\0").join(", "));
    at = value.next;
  }
  return headers;
}

/** One zlib context fed block by block, each block sync-flushed, as SPDY's header streams are. */
export class SpdyHeaderCodec {
  readonly #stream: zlib.Inflate | zlib.Deflate;
  #chain: Promise<unknown> = Promise.resolve();
  #output: Buffer[] = [];

  /** A compressing (`deflate`) or decompressing (`inflate`) context with SPDY's dictionary. */
  constructor(kind: "inflate" | "deflate") {
    const options = { dictionary: Buffer.from(SPDY_DICTIONARY) };
    this.#stream = kind === "inflate" ? zlib.createInflate(options) : zlib.createDeflate(options);
    this.#stream.on("data", (chunk: Buffer) => this.#output.push(chunk));
    this.#stream.on("error", () => {});
  }

  /** Runs one block through the context; blocks are processed strictly in call order. */
  process(block: Uint8Array): Promise<Uint8Array> {
    const done = this.#chain.then(() =>
      new Promise<Uint8Array>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        this.#stream.once("error", onError);
        this.#stream.write(Buffer.from(block));
        this.#stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          this.#stream.off("error", onError);
          const out = Buffer.concat(this.#output);
          this.#output = [];
          resolve(new Uint8Array(out));
        });
      })
    );
    this.#chain = done.catch(() => {});
    return done;
  }

  /** Releases the zlib context. */
  close(): void {
    this.#stream.destroy();
  }
}

/** A stream the client opened. */
export class SpdyStream {
  /** The stream id (odd: client-initiated). */
  readonly id: number;
  /** The SYN_STREAM headers, names lower-cased. */
  readonly headers: Map<string, string>;
  /** What the client sends on this stream; ends on its FIN or a reset. */
  readonly inbound: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #inboundOpen = true;
  #outboundOpen = true;
  readonly #connection: SpdyConnection;

  constructor(connection: SpdyConnection, id: number, headers: Map<string, string>) {
    this.#connection = connection;
    this.id = id;
    this.headers = headers;
    this.inbound = new ReadableStream<Uint8Array>({
      start: (controller) => void (this.#controller = controller),
    });
  }

  /** @internal The client's data arrived. */
  deliver(data: Uint8Array, fin: boolean): void {
    if (!this.#inboundOpen) return;
    if (data.length > 0) this.#controller.enqueue(data);
    if (fin) this.endInbound();
  }

  /** @internal The client finished sending, or the stream or connection went away. */
  endInbound(): void {
    if (!this.#inboundOpen) return;
    this.#inboundOpen = false;
    try {
      this.#controller.close();
    } catch {
      // Cancelled by its reader.
    }
  }

  /** @internal The stream was reset: nothing more goes either way. */
  reset(): void {
    this.#outboundOpen = false;
    this.endInbound();
  }

  /** Whether this side may still send. */
  get writable(): boolean {
    return this.#outboundOpen && !this.#connection.isClosed;
  }

  /** Sends data (nothing for empty data); a no-op once this side closed. */
  async write(data: Uint8Array): Promise<void> {
    for (let at = 0; at < data.length && this.writable; at += MAX_DATA) {
      await this.#connection.writeData(this.id, data.subarray(at, at + MAX_DATA), false);
    }
  }

  /** Closes this side (a FIN); the client may still send until it closes its own. */
  async close(): Promise<void> {
    if (!this.writable) return;
    this.#outboundOpen = false;
    await this.#connection.writeData(this.id, new Uint8Array(), true);
  }
}

/**
 * The server side of one SPDY/3.1 connection on an upgraded socket. `onStream` decides whether
 * to accept each stream the client opens (a refused one is answered with a FIN right away).
 */
export class SpdyConnection {
  readonly #socket: Duplex;
  readonly #onStream: (stream: SpdyStream) => boolean;
  readonly #streams = new Map<number, SpdyStream>();
  readonly #inflate = new SpdyHeaderCodec("inflate");
  readonly #deflate = new SpdyHeaderCodec("deflate");
  #buffer = new Uint8Array(0);
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #lastStreamId = 0;
  /** Resolves once the socket closed, from either side. */
  readonly closed: Promise<void>;

  constructor(socket: Duplex, head: Uint8Array, onStream: (stream: SpdyStream) => boolean) {
    this.#socket = socket;
    this.#onStream = onStream;
    this.closed = new Promise((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        this.#closed = true;
        for (const stream of this.#streams.values()) stream.reset();
        this.#streams.clear();
        this.#inflate.close();
        this.#deflate.close();
        resolve();
      };
      socket.on("close", finish);
      socket.on("error", finish);
    });
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    if (head.length > 0) this.#receive(head);
  }

  /** Whether the connection is gone. */
  get isClosed(): boolean {
    return this.#closed;
  }

  #receive(chunk: Uint8Array): void {
    this.#buffer = concatBytes(this.#buffer, chunk);
    while (this.#buffer.length >= 8) {
      const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, 8);
      const length = view.getUint32(4) & 0xffffff;
      if (length > MAX_FRAME) return this.destroy();
      if (this.#buffer.length < 8 + length) return;
      const frame = this.#buffer.slice(0, 8 + length);
      this.#buffer = this.#buffer.slice(8 + length);
      // Frames are handled strictly in order: a stream's DATA must not overtake its SYN_STREAM,
      // whose headers are still being inflated.
      this.#chain = this.#chain.then(() => this.#handle(frame)).catch(() => this.destroy());
    }
  }

  async #handle(frame: Uint8Array): Promise<void> {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const first = view.getUint32(0);
    const flags = frame[4];
    const payload = frame.subarray(8);
    if ((first & 0x80000000) === 0) {
      this.#streams.get(first & 0x7fffffff)?.deliver(payload.slice(), (flags & FLAG_FIN) !== 0);
      return;
    }
    const version = (first >>> 16) & 0x7fff;
    if (version !== VERSION) return this.destroy();
    const payloadView = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    switch (first & 0xffff) {
      case FrameType.SynStream: {
        const id = payloadView.getUint32(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.#inflate.process(payload.subarray(10)));
        const stream = new SpdyStream(this, id, headers);
        this.#lastStreamId = Math.max(this.#lastStreamId, id);
        this.#streams.set(id, stream);
        const accepted = this.#onStream(stream);
        await this.#writeControl(
          FrameType.SynReply,
          accepted ? 0 : FLAG_FIN,
          concatBytes(uint32(id), await this.#deflate.process(encodeHeaderBlock({}))),
        );
        if ((flags & FLAG_FIN) !== 0) stream.endInbound();
        if (!accepted) {
          stream.reset();
          this.#streams.delete(id);
        }
        return;
      }
      case FrameType.Headers:
        // Ignored, but inflated all the same to keep the shared context in step.
        await this.#inflate.process(payload.subarray(4));
        return;
      case FrameType.RstStream: {
        const id = payloadView.getUint32(0) & 0x7fffffff;
        this.#streams.get(id)?.reset();
        this.#streams.delete(id);
        return;
      }
      case FrameType.Ping:
        await this.#writeControl(FrameType.Ping, 0, payload.slice());
        return;
      case FrameType.GoAway:
        // The client will open no more streams; those open finish normally.
        return;
      case FrameType.Settings:
      case FrameType.WindowUpdate:
      default:
        return;
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return;
    if (!this.#socket.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off("drain", done);
          this.#socket.off("close", done);
          resolve();
        };
        this.#socket.on("drain", done);
        this.#socket.on("close", done);
      });
    }
  }

  async #writeControl(type: FrameType, flags: number, payload: Uint8Array): Promise<void> {
    const header = new Uint8Array(8);
    const view = new DataView(header.buffer);
    view.setUint32(0, 0x80000000 | (VERSION << 16) | type);
    view.setUint32(4, (flags << 24) | payload.length);
    await this.#write(concatBytes(header, payload));
  }

  /** @internal Writes a DATA frame. */
  async writeData(id: number, data: Uint8Array, fin: boolean): Promise<void> {
    const header = new Uint8Array(8);
    const view = new DataView(header.buffer);
    view.setUint32(0, id & 0x7fffffff);
    view.setUint32(4, ((fin ? FLAG_FIN : 0) << 24) | data.length);
    await this.#write(concatBytes(header, data));
  }

  /** Says goodbye (GOAWAY) and ends the socket once what was written has gone out. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writeControl(
      FrameType.GoAway,
      0,
      concatBytes(uint32(this.#lastStreamId), uint32(0)),
    );
    // Nothing may be written after the end: mark the connection closed first.
    this.#closed = true;
    this.#socket.end();
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2000))]);
    this.destroy();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#socket.destroy();
  }
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}
