/**
 * A small SPDY/3.1 client for tests, behaving as moby/spdystream does for the kubelet and
 * crictl: it upgrades an HTTP connection, opens streams with SYN_STREAM (compressed headers),
 * sends DATA and FIN, and collects what the server sends per stream until the server's FIN.
 */
import { decodeHeaderBlock, encodeHeaderBlock, SpdyHeaderCodec } from "./spdy.ts";

/** One client stream: what the server sent on it and whether it finished. */
export interface ClientStream {
  id: number;
  received: Uint8Array[];
  finished: Promise<void>;
  text(): string;
}

/** A client SPDY connection. */
export interface SpdyTestClient {
  /** The protocol the server chose (`X-Stream-Protocol-Version`). */
  protocol: string;
  /** Opens a stream with these headers. */
  open(headers: Record<string, string>): Promise<ClientStream>;
  /** Sends data on a stream, with FIN when `fin`. */
  send(stream: ClientStream, data: Uint8Array | string, fin?: boolean): Promise<void>;
  /** Resolves once the server ended the connection. */
  closed: Promise<void>;
  close(): void;
}

function frameHeader(first: number, flags: number, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, first >>> 0);
  view.setUint32(4, ((flags << 24) | length) >>> 0);
  return out;
}

/** Connects to a streaming URL and upgrades to SPDY/3.1 offering `protocols`. */
export async function connectSpdy(url: string, protocols: string[]): Promise<SpdyTestClient> {
  const target = new URL(url);
  const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
  const request = `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
    `Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
    protocols.map((p) => `X-Stream-Protocol-Version: ${p}\r\n`).join("") + "\r\n";
  await conn.write(new TextEncoder().encode(request));
  let buffer = new Uint8Array(0);
  const reader = conn.readable.getReader();
  const append = (chunk: Uint8Array) => {
    const joined = new Uint8Array(buffer.length + chunk.length);
    joined.set(buffer);
    joined.set(chunk, buffer.length);
    buffer = joined;
  };
  let headerEnd = -1;
  while (headerEnd < 0) {
    const { done, value } = await reader.read();
    if (done) throw new Error("the server closed before answering the upgrade");
    append(value);
    headerEnd = new TextDecoder().decode(buffer).indexOf("\r\n\r\n");
  }
  const head = new TextDecoder().decode(buffer.subarray(0, headerEnd));
  buffer = buffer.slice(headerEnd + 4);
  if (!head.startsWith("HTTP/1.1 101")) {
    conn.close();
    throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
  }
  const protocol = /x-stream-protocol-version: *(\S+)/i.exec(head)?.[1] ?? "";
  const deflate = new SpdyHeaderCodec("deflate");
  const inflate = new SpdyHeaderCodec("inflate");
  const streams = new Map<number, { stream: ClientStream; finish: () => void }>();
  let nextId = 1;
  let writes = Promise.resolve();
  const write = (
    bytes: Uint8Array,
  ) => (writes = writes.then(() => conn.write(bytes).then(() => {})));

  const closed = (async () => {
    let chain = Promise.resolve();
    const handle = async (frame: Uint8Array) => {
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      const first = view.getUint32(0);
      const fin = (frame[4] & 1) !== 0;
      const payload = frame.subarray(8);
      if ((first & 0x80000000) === 0) {
        const entry = streams.get(first & 0x7fffffff);
        if (entry && payload.length) entry.stream.received.push(payload.slice());
        if (entry && fin) entry.finish();
        return;
      }
      const type = first & 0xffff;
      if (type === 2) {
        decodeHeaderBlock(await inflate.process(payload.subarray(4)));
        const entry = streams.get(new DataView(payload.buffer, payload.byteOffset).getUint32(0));
        if (entry && fin) entry.finish();
      }
    };
    for (;;) {
      while (buffer.length >= 8) {
        const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(4) & 0xffffff;
        if (buffer.length < 8 + length) break;
        const frame = buffer.slice(0, 8 + length);
        buffer = buffer.slice(8 + length);
        chain = chain.then(() => handle(frame));
      }
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !value) break;
      append(value);
    }
    await chain;
    for (const entry of streams.values()) entry.finish();
    deflate.close();
    inflate.close();
  })();

  return {
    protocol,
    closed,
    async open(headers) {
      const id = nextId;
      nextId += 2;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const stream: ClientStream = {
        id,
        received: [],
        finished,
        text: () => stream.received.map((r) => new TextDecoder().decode(r)).join(""),
      };
      streams.set(id, { stream, finish });
      const block = await deflate.process(encodeHeaderBlock(headers));
      const body = new Uint8Array(10 + block.length);
      const view = new DataView(body.buffer);
      view.setUint32(0, id);
      body.set(block, 10);
      await write(new Uint8Array([...frameHeader(0x80030001, 0, body.length), ...body]));
      return stream;
    },
    async send(stream, data, fin = false) {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      await write(new Uint8Array([...frameHeader(stream.id, fin ? 1 : 0, bytes.length), ...bytes]));
    },
    close() {
      try {
        conn.close();
      } catch {
        // Already closed by the server.
      }
    },
  };
}
