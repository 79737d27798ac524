/**
 * The connection guard: a TCP front for `Deno.serve`, which has no deadline for request
 * heads, so a client that trickles one header byte at a time (slowloris) would hold its
 * connection forever. The guard owns the public socket, reads each request head under a
 * deadline and a size limit, closes connections that go idle, and hands complete requests
 * to the real server on a private Unix socket, adding the client's address as a header.
 *
 * It also tells the server behind when a client leaves. Deno 2.9 aborts `request.signal` on
 * a disconnect only while the request's body was small (a few hundred bytes); past that, a
 * non-streaming handler learns of it only when it writes its answer, so its work runs to the
 * end. The guard owns the client's socket and sees it close: it names the connection of each
 * forwarded request with a body in a header, and the handler gets a request whose `signal`
 * also fires when that connection closes.
 *
 * It parses only the framing of requests (head, Content-Length, chunked), never bodies, and
 * refuses ambiguous framing (both Content-Length and Transfer-Encoding, differing lengths),
 * so it and the server behind it always agree where a request ends. It follows the framing of
 * the responses too, to learn whether the server accepted a protocol switch (only a 101 ends
 * the guarding of a connection) and when a response that closes the connection has ended.
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { Logger } from "../logger.ts";
import { counter } from "../telemetry.ts";
import { PEER_HEADER } from "./guard.ts";

/** Limits the guard enforces per connection. */
export interface ConnectionLimits {
  /** Time from a request's first byte (or the connection's opening) to the end of its head. */
  headerTimeoutMs: number;
  /** Time a connection may send and receive nothing while no response is pending. */
  idleTimeoutMs: number;
  /** Largest request head in bytes. */
  maxHeaderBytes: number;
  /**
   * Open connections per client address; a connection beyond it is closed at once, so one
   * client cannot exhaust the process's file descriptors. 0 or unset = no limit.
   */
  maxConnectionsPerClient?: number;
}

/** Options for {@linkcode serveGuarded}. */
export interface GuardedServeOptions {
  hostname: string;
  port: number;
  handler: Deno.ServeHandler;
  limits: ConnectionLimits;
  logger: Logger;
}

/** A running guarded server. */
export interface GuardedServer {
  addr: Deno.NetAddr;
  /** Stops accepting, drains the server behind, then closes what is left. */
  shutdown(): Promise<void>;
}

const closedByGuard = counter({
  name: "a3s_connections_closed_total",
  help: "Connections the connection guard closed, by reason.",
  labelNames: ["reason"],
});

/**
 * The header in which the guard names the client connection a request came on. Clients'
 * copies are dropped; the server behind is reachable only through the guard.
 */
export const CONNECTION_HEADER = "x-a3s-connection";
/** What a request from a connection that has already gone gets as its disconnect signal. */
const GONE = AbortSignal.abort(new DOMException("the client disconnected", "AbortError"));

const CRLF2 = new Uint8Array([13, 10, 13, 10]);
const MAX_CHUNK_LINE = 4096;
/** A response head longer than this is not one the server behind writes; followed no further. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/**
 * How long, after a response that closes the connection, the socket stays open for the client
 * to read the answer, and how much of what it still sends (the body the server will not read)
 * is read and dropped meanwhile. Past the byte bound its sends just stall: an endless body must
 * not keep the guard reading at full speed.
 */
const LINGER_MS = 2000;
const LINGER_BYTES = 1024 * 1024;
/** How long shutdown waits for answered responses to finish reaching their clients. */
const FORWARD_GRACE_MS = 2000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A refusal that ends the connection after a short error response. */
class FramingError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
}

/** A connection that closed underneath us; ends the request loop quietly. */
class Closed extends Error {}

/** Where `needle` first starts in `haystack`, or -1: a native search over a view, no copy. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function errorResponse(status: number, message: string): Uint8Array {
  const titles: Record<number, string> = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
  };
  const body = JSON.stringify({
    type: `urn:a3s:error:${status === 408 ? "request_timeout" : "bad_request"}`,
    title: titles[status] ?? "Error",
    status,
    detail: message,
  });
  return encoder.encode(
    `HTTP/1.1 ${status} ${
      titles[status] ?? "Error"
    }\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Checks `bytes[from, to)` of a request head for a CR or LF that is not part of a CRLF, and
 * returns how far it got: a CR that is the last byte read is left for the next call, as its
 * LF may still come. The server behind (like most HTTP/1 parsers) also ends a line at a lone
 * LF, and a head at LF CRLF, where the guard sees only CRLF: a line the guard took for one
 * header's value was several headers there (a forged peer header or Content-Length among
 * them), and the head could end earlier there, the rest read as the body. Refused at once, the
 * two never disagree on a line or on where the head ends.
 */
function checkLineBreaks(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const byte = bytes[i];
    if (byte === 10) {
      if (i === 0 || bytes[i - 1] !== 13) {
        throw new FramingError(400, "bare_line_break", "LF without CR in the request head");
      }
    } else if (byte === 13) {
      if (i + 1 >= bytes.length) return i;
      if (bytes[i + 1] !== 10) {
        throw new FramingError(400, "bare_line_break", "CR without LF in the request head");
      }
    }
  }
  return to;
}

/** What the guard learned from a request head, and the head to forward. */
interface ParsedHead {
  forward: Uint8Array;
  method: string;
  body: { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | {
    kind: "upgrade";
  };
}

/**
 * Parses a head (without its final blank line), checks framing, and rewrites the peer and
 * connection headers.
 */
function parseHead(head: Uint8Array, peer: string, connection: string): ParsedHead {
  const lines = decoder.decode(head).split("\r\n");
  const requestLine = lines[0];
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/1\.[01]$/.test(requestLine)) {
    throw new FramingError(400, "bad_request_line", "malformed request line");
  }
  const kept: string[] = [requestLine];
  const lengths = new Set<string>();
  let transferEncoding: string | undefined;
  let upgrade = false;
  let connectionUpgrade = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /^\s/.test(line)) {
      throw new FramingError(400, "bad_header", "malformed header line");
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    // The client's address and connection come from the guard, never from what the client says.
    if (name === PEER_HEADER || name === CONNECTION_HEADER) continue;
    if (name === "content-length") { for (const v of value.split(",")) lengths.add(v.trim()); }
    if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    }
    if (name === "upgrade") upgrade = true;
    if (name === "connection" && /(^|,)\s*upgrade\s*(,|$)/i.test(value)) connectionUpgrade = true;
    kept.push(line);
  }
  kept.push(`${PEER_HEADER}: ${peer}`);
  const body = bodyOf(lengths, transferEncoding, upgrade && connectionUpgrade);
  // Requests with a body name their connection, so the server behind learns when the client
  // leaves (Deno reports that itself for requests without one). Keeping the tag off the rest
  // leaves GETs as cheap as before, and a protocol switch needs the server's own request.
  if (body.kind === "length" || body.kind === "chunked") {
    kept.push(`${CONNECTION_HEADER}: ${connection}`);
  }
  return {
    forward: encoder.encode(`${kept.join("\r\n")}\r\n\r\n`),
    method: requestLine.slice(0, requestLine.indexOf(" ")),
    body,
  };
}

/** How a request's body is framed; throws on ambiguous or unsupported framing. */
function bodyOf(
  lengths: Set<string>,
  transferEncoding: string | undefined,
  upgrade: boolean,
): ParsedHead["body"] {
  if (transferEncoding !== undefined) {
    if (lengths.size) {
      throw new FramingError(400, "ambiguous_framing", "both content-length and transfer-encoding");
    }
    if (transferEncoding.trim().toLowerCase() !== "chunked") {
      throw new FramingError(400, "bad_transfer_encoding", "only chunked transfer-encoding");
    }
    return { kind: "chunked" };
  }
  if (lengths.size > 1) {
    throw new FramingError(400, "ambiguous_framing", "differing content-length");
  }
  if (lengths.size === 1) {
    const [raw] = lengths;
    if (!/^\d{1,15}$/.test(raw)) throw new FramingError(400, "bad_length", "bad content-length");
    const length = Number(raw);
    return length ? { kind: "length", length } : { kind: "none" };
  }
  return upgrade ? { kind: "upgrade" } : { kind: "none" };
}

/** A forwarded request whose response has not begun. */
interface PendingResponse {
  /** A HEAD request's response has no body, whatever its headers say. */
  head: boolean;
  /** For a protocol switch: settles with whether the server answered 101. */
  switched?: PromiseWithResolvers<boolean>;
}

/**
 * Follows the framing of the responses the server behind writes on one connection: where each
 * head and body ends, in the order of the requests forwarded. Deno answers an upgrade it does
 * not accept (a 404, a 426) and keeps the connection open for more requests, so only a 101
 * may end the guarding of the client's bytes; and a response that closes the connection
 * (a 413 sent before the body was read) must end the client's connection with it, or the guard
 * would wait for the rest of a body nobody reads.
 */
class ResponseFramer {
  /** Requests forwarded, oldest first, whose responses have not begun. */
  readonly pending: PendingResponse[] = [];
  #state: "head" | "length" | "size" | "data" | "trailer" | "raw" = "head";
  /** The part of a head or chunk line read so far. */
  #partial: Uint8Array = new Uint8Array(0);
  #left = 0;
  #closes = false;

  /** Follows `bytes`; true once a response that closes the connection has ended in them. */
  feed(bytes: Uint8Array): boolean {
    let at = 0;
    while (at < bytes.length) {
      if (this.#state === "raw") return false;
      if (this.#state === "length" || this.#state === "data") {
        const n = Math.min(this.#left, bytes.length - at);
        at += n;
        this.#left -= n;
        if (this.#left > 0) return false;
        if (this.#state === "data") this.#state = "size";
        else if (this.#ended()) return true;
        continue;
      }
      const terminator = this.#state === "head" ? CRLF2 : CRLF2.subarray(0, 2);
      const rest = bytes.subarray(at);
      const joined = this.#partial.length ? Buffer.concat([this.#partial, rest]) : rest;
      const end = indexOf(joined, terminator);
      if (end < 0) {
        this.#partial = joined.slice();
        if (this.#partial.length > MAX_RESPONSE_HEAD) this.#lose();
        return false;
      }
      at += end + terminator.length - this.#partial.length;
      this.#partial = new Uint8Array(0);
      if (this.#line(decoder.decode(joined.subarray(0, end)))) return true;
    }
    return false;
  }

  /** Settles every protocol switch still waiting: the connection is gone. */
  abandon(): void {
    for (const pending of this.pending.splice(0)) pending.switched?.resolve(false);
  }

  /** Handles a complete head or chunk line; true once a closing response has ended. */
  #line(text: string): boolean {
    if (this.#state === "size") {
      const size = parseInt(text.split(";")[0].trim(), 16);
      // Not a chunk size: stop following rather than guess (the server behind writes these).
      if (!Number.isSafeInteger(size)) this.#lose();
      else if (size === 0) this.#state = "trailer";
      else {
        this.#left = size + 2;
        this.#state = "data";
      }
      return false;
    }
    if (this.#state === "trailer") return text === "" && this.#ended();
    const lines = text.split("\r\n");
    const status = Number(lines[0].slice(9, 12));
    // An interim response (100 Continue) answers no request; the final one follows.
    if (status >= 100 && status < 200 && status !== 101) return false;
    const request = this.pending.shift();
    request?.switched?.resolve(status === 101);
    if (status === 101) {
      // From here on the bytes are the new protocol's, not HTTP's.
      this.#state = "raw";
      return false;
    }
    let length: number | undefined;
    let chunked = false;
    this.#closes = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === "content-length") length = Number(value);
      if (name === "transfer-encoding") chunked = /(^|,)\s*chunked\s*$/.test(value);
      if (name === "connection" && /(^|,)\s*close\s*(,|$)/.test(value)) this.#closes = true;
    }
    if (request?.head || status === 204 || status === 304) return this.#ended();
    if (chunked) this.#state = "size";
    else if (length !== undefined && Number.isSafeInteger(length)) {
      if (length === 0) return this.#ended();
      this.#left = length;
      this.#state = "length";
    } // A body that runs to the end of the connection: the server's close ends it.
    else this.#lose();
    return false;
  }

  /**
   * Stops following: what comes next cannot be told apart from a body. A protocol switch still
   * waiting is taken as refused, so its connection stays guarded rather than hanging.
   */
  #lose(): void {
    this.#state = "raw";
    this.abandon();
  }

  #ended(): boolean {
    this.#state = "head";
    return this.#closes;
  }
}

/**
 * Serves `handler` behind the connection guard on `hostname:port`.
 *
 * @example
 * ```ts
 * import { createLogger, serveGuarded } from "@a3s/common";
 * const server = await serveGuarded({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handler: () => new Response("ok"),
 *   limits: { headerTimeoutMs: 10_000, idleTimeoutMs: 120_000, maxHeaderBytes: 32_768 },
 *   logger: createLogger("silent"),
 * });
 * await server.shutdown();
 * ```
 */
export async function serveGuarded(options: GuardedServeOptions): Promise<GuardedServer> {
  const { limits, logger } = options;
  // A private directory (mode 0700), so only this user can reach the server behind.
  const dir = await Deno.makeTempDir({ prefix: "a3s-serve-" });
  const socketPath = join(dir, "http.sock");
  const { promise: innerListening, resolve: innerReady } = Promise.withResolvers<void>();
  // Each open client connection's signal, by the id the guard tags its requests with.
  const live = new Map<string, AbortSignal>();
  const handler: Deno.ServeHandler = (request, info) => {
    const id = request.headers.get(CONNECTION_HEADER);
    if (id === null) return options.handler(request, info);
    // An id no longer open is a connection that closed before its request got here.
    const gone = live.get(id) ?? GONE;
    const signal = AbortSignal.any([request.signal, gone]);
    // Handing the body stream over as it is (rather than the proxy a copy would make) keeps
    // Deno's fast path for reading it.
    const init = { signal, body: request.body, duplex: "half" } as RequestInit;
    return options.handler(new Request(request, init), info);
  };
  const inner = Deno.serve({ path: socketPath, onListen: () => innerReady() }, handler);
  await innerListening;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.hostname, port: options.port });
  } catch (error) {
    await inner.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  const open = new Set<Connection>();
  const perClient = new Map<string, number>();
  let stopping = false;
  let lastId = 0;

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
        const count = perClient.get(peer) ?? 0;
        if (limits.maxConnectionsPerClient && count >= limits.maxConnectionsPerClient) {
          closedByGuard.inc({ reason: "too_many_connections" });
          logger.warn("connection closed", { reason: "too_many_connections", client: peer });
          conn.close();
          continue;
        }
        perClient.set(peer, count + 1);
        const connection = new Connection(conn, socketPath, limits, logger, String(++lastId));
        open.add(connection);
        live.set(connection.id, connection.gone);
        connection.run().finally(() => {
          open.delete(connection);
          live.delete(connection.id);
          const left = (perClient.get(peer) ?? 1) - 1;
          if (left > 0) perClient.set(peer, left);
          else perClient.delete(peer);
        });
      }
    } catch (error) {
      if (!stopping) logger.error("accept failed", { error: String(error) });
    }
  })();

  return {
    addr: listener.addr as Deno.NetAddr,
    async shutdown() {
      stopping = true;
      listener.close();
      await accepting;
      // Connections between requests go now; ones with a request in flight drain.
      for (const connection of open) connection.closeIfIdle();
      await inner.shutdown();
      // The server behind has answered everything; let the last bytes reach the clients.
      await Promise.race([
        Promise.all([...open].map((connection) => connection.responsesForwarded())),
        new Promise((resolve) => setTimeout(resolve, FORWARD_GRACE_MS)),
      ]);
      for (const connection of open) connection.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** One client connection and its upstream connection to the server behind. */
class Connection {
  /** The id the guard tags this connection's requests with. */
  readonly id: string;
  readonly #gone = new AbortController();
  readonly #client: Deno.TcpConn;
  readonly #socketPath: string;
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly #peer: string;
  #upstream?: Deno.UnixConn;
  #pump?: Promise<void>;
  #buffer: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #closed = false;
  #timer?: ReturnType<typeof setTimeout>;
  #timerReason = "";
  /** Requests forwarded whose response has not started: no idle deadline meanwhile. */
  #awaitingResponse = false;
  /** True while reading a request head; used to answer 408 rather than just closing. */
  #inHead = false;
  #betweenRequests = true;
  readonly #responses = new ResponseFramer();
  /** Set once a response closed the connection: the client's last bytes are being dropped. */
  #lingering = false;
  #lingerTimer?: ReturnType<typeof setTimeout>;

  constructor(
    client: Deno.TcpConn,
    socketPath: string,
    limits: ConnectionLimits,
    logger: Logger,
    id: string,
  ) {
    this.id = id;
    this.#client = client;
    this.#socketPath = socketPath;
    this.#limits = limits;
    this.#logger = logger;
    this.#peer = (client.remoteAddr as Deno.NetAddr).hostname;
    // Responses leave in the pieces the server wrote them; waiting to coalesce them
    // (Nagle) would hold streamed tokens and small answers back.
    client.setNoDelay(true);
  }

  /** Arms the one deadline of this connection; any traffic re-arms or disarms it. */
  #arm(ms: number, reason: string): void {
    // A lingering connection ends on its own timer, and has no request left to time.
    if (this.#lingering) return;
    clearTimeout(this.#timer);
    this.#timerReason = reason;
    this.#timer = setTimeout(() => this.#expire(), ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #expire(): void {
    const reason = this.#timerReason;
    closedByGuard.inc({ reason });
    this.#logger.warn("connection closed", { reason, client: this.#peer });
    if (this.#inHead) {
      this.#client.write(errorResponse(408, "request head not received in time")).catch(() => {})
        .finally(() => this.close());
    } else this.close();
  }

  /** The idle deadline applies unless a response is pending (a slow handler is not idle). */
  #armIdle(): void {
    if (this.#awaitingResponse) this.#disarm();
    else this.#arm(this.#limits.idleTimeoutMs, "idle");
  }

  /** Aborted once the connection closes: its requests' answers can no longer reach the client. */
  get gone(): AbortSignal {
    return this.#gone.signal;
  }

  closeIfIdle(): void {
    if (this.#betweenRequests && !this.#awaitingResponse) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    clearTimeout(this.#lingerTimer);
    this.#gone.abort(new DOMException("the client disconnected", "AbortError"));
    this.#responses.abandon();
    try {
      this.#client.close();
    } catch { /* already closed */ }
    try {
      this.#upstream?.close();
    } catch { /* already closed */ }
  }

  /** Reads more client bytes into the buffer; throws {@linkcode Closed} at end of stream. */
  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.#client.read(chunk);
    } catch {
      throw new Closed();
    }
    // Once a response closed the connection, what the client sends is dropped, not forwarded.
    if (n === null || this.#lingering) throw new Closed();
    this.#buffer = this.#buffer.length
      ? Buffer.concat([this.#buffer, chunk.subarray(0, n)])
      : chunk.slice(0, n);
  }

  #take(n: number): Uint8Array {
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  async #toUpstream(bytes: Uint8Array): Promise<void> {
    if (!bytes.length) return;
    try {
      await writeAll(this.#upstream!, bytes);
    } catch {
      throw new Closed();
    }
  }

  /** Resolves once the server behind has closed this connection and its bytes went out. */
  responsesForwarded(): Promise<void> {
    return this.#pump ?? Promise.resolve();
  }

  async #openUpstream(): Promise<void> {
    this.#upstream = await Deno.connect({ transport: "unix", path: this.#socketPath });
    const upstream = this.#upstream;
    // Responses flow back untouched; any byte from the server means the response started.
    this.#pump = (async () => {
      const chunk = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await upstream.read(chunk);
          if (n === null) break;
          this.#awaitingResponse = false;
          if (this.#betweenRequests && !this.#inHead) this.#armIdle();
          const closing = this.#responses.feed(chunk.subarray(0, n));
          await writeAll(this.#client, chunk.subarray(0, n));
          if (closing) {
            this.#linger();
            return;
          }
        }
      } catch { /* either side went away */ }
      this.close();
    })();
  }

  /**
   * Ends the connection after a response that closes it (sent before the server read the
   * request's body, as a 413 is). The server reads nothing more, so the guard stops forwarding;
   * it sends its end of the stream at once but keeps reading (and dropping) what the client
   * still sends for a while, since closing with unread bytes resets the connection, and a
   * reset can discard the answer before the client has read it.
   */
  #linger(): void {
    this.#lingering = true;
    this.#disarm();
    try {
      this.#upstream?.close();
    } catch { /* already closed */ }
    this.#client.closeWrite().catch(() => {});
    this.#lingerTimer = setTimeout(() => this.close(), LINGER_MS);
  }

  async run(): Promise<void> {
    try {
      for (;;) {
        const parsed = await this.#readHead();
        if (!this.#upstream) await this.#openUpstream();
        this.#betweenRequests = false;
        this.#awaitingResponse = true;
        const pending: PendingResponse = { head: parsed.method === "HEAD" };
        if (parsed.body.kind === "upgrade") pending.switched = Promise.withResolvers<boolean>();
        // Queued before the head goes out, so its response cannot begin unexpected.
        this.#responses.pending.push(pending);
        await this.#toUpstream(parsed.forward);
        if (pending.switched) {
          // Only a 101 hands the connection to another protocol; any other answer leaves it
          // an HTTP connection whose next requests are checked like the first.
          if (!(await pending.switched.promise)) {
            if (this.#closed) return;
            this.#betweenRequests = true;
            continue;
          }
        }
        await this.#forwardBody(parsed.body);
        this.#betweenRequests = true;
        if (parsed.body.kind === "upgrade") return;
      }
    } catch (error) {
      if (error instanceof FramingError) {
        closedByGuard.inc({ reason: error.reason });
        this.#logger.warn("connection closed", { reason: error.reason, client: this.#peer });
        await this.#client.write(errorResponse(error.status, error.message)).catch(() => {});
      } else if (!(error instanceof Closed)) {
        this.#logger.error("connection failed", { error: String(error), client: this.#peer });
      }
    } finally {
      if (this.#lingering) await this.#drain();
      this.close();
    }
  }

  /** Reads and drops the client's bytes until it closes or the linger timer closes it. */
  async #drain(): Promise<void> {
    const scratch = new Uint8Array(64 * 1024);
    let dropped = 0;
    try {
      for (;;) {
        const n = await this.#client.read(scratch);
        if (n === null) return;
        dropped += n;
        if (dropped > LINGER_BYTES) break;
      }
    } catch {
      return; // closed by the linger timer
    }
    const gone = this.#gone.signal;
    if (!gone.aborted) {
      await new Promise((resolve) => gone.addEventListener("abort", resolve, { once: true }));
    }
  }

  /** Reads one request head under the header deadline and size limit. */
  async #readHead(): Promise<ParsedHead> {
    // Before the first byte of a later request, the connection is idle; from it, the head
    // deadline runs. A new connection starts its head deadline at once.
    this.#inHead = false;
    if (this.#buffer.length === 0) {
      if (this.#upstream) {
        this.#armIdle();
        await this.#fill();
      }
    }
    this.#inHead = true;
    this.#arm(this.#limits.headerTimeoutMs, "header_timeout");
    // How far the head's bytes were checked for a lone CR or LF; only new bytes are scanned, so
    // a head trickled a byte at a time costs no more than one sent at once.
    let checked = 0;
    for (;;) {
      // Stray CRLFs before a request line are allowed and skipped.
      while (this.#buffer.length >= 2 && this.#buffer[0] === 13 && this.#buffer[1] === 10) {
        this.#take(2);
        checked = 0;
      }
      const end = indexOf(this.#buffer, CRLF2);
      checked = checkLineBreaks(this.#buffer, checked, end >= 0 ? end + 4 : this.#buffer.length);
      if (end >= 0) {
        if (end + 4 > this.#limits.maxHeaderBytes) {
          throw new FramingError(431, "header_too_large", "request head too large");
        }
        const head = this.#take(end + 4).subarray(0, end);
        this.#inHead = false;
        this.#disarm();
        return parseHead(head, this.#peer, this.id);
      }
      if (this.#buffer.length > this.#limits.maxHeaderBytes) {
        throw new FramingError(431, "header_too_large", "request head too large");
      }
      await this.#fill();
    }
  }

  /** Forwards exactly one body's bytes; each client read re-arms the idle deadline. */
  async #forwardBody(body: ParsedHead["body"]): Promise<void> {
    if (body.kind === "none") return;
    if (body.kind === "upgrade") {
      // A protocol switch (WebSocket): from here on bytes pass through both ways.
      this.#disarm();
      await this.#toUpstream(this.#take(this.#buffer.length));
      for (;;) {
        await this.#fill();
        await this.#toUpstream(this.#take(this.#buffer.length));
      }
    }
    if (body.kind === "length") {
      let left = body.length;
      for (;;) {
        const part = this.#take(Math.min(left, this.#buffer.length));
        left -= part.length;
        await this.#toUpstream(part);
        if (left === 0) return;
        this.#arm(this.#limits.idleTimeoutMs, "idle");
        await this.#fill();
      }
    }
    // Chunked: size line, data, CRLF, ... a zero size, then trailers and a blank line.
    for (;;) {
      const line = await this.#forwardLine();
      const size = parseInt(line.split(";")[0].trim(), 16);
      if (!/^[0-9a-fA-F]+$/.test(line.split(";")[0].trim()) || !Number.isSafeInteger(size)) {
        throw new FramingError(400, "bad_chunk", "malformed chunk size");
      }
      if (size === 0) {
        // Trailers until an empty line.
        while ((await this.#forwardLine()) !== "");
        return;
      }
      let left = size + 2;
      for (;;) {
        const part = this.#take(Math.min(left, this.#buffer.length));
        left -= part.length;
        await this.#toUpstream(part);
        if (left === 0) break;
        this.#arm(this.#limits.idleTimeoutMs, "idle");
        await this.#fill();
      }
    }
  }

  /** Forwards one CRLF-terminated line and returns it without the CRLF. */
  async #forwardLine(): Promise<string> {
    for (;;) {
      const end = indexOf(this.#buffer, CRLF2.subarray(0, 2));
      if (end >= 0) {
        // A lone CR or LF ends a chunk line, or is refused, behind; here it would be inside one.
        if (this.#buffer.subarray(0, end).some((byte) => byte === 10 || byte === 13)) {
          throw new FramingError(400, "bad_chunk", "CR or LF inside a chunk line");
        }
        const line = this.#take(end + 2);
        await this.#toUpstream(line);
        return decoder.decode(line.subarray(0, end));
      }
      if (this.#buffer.length > MAX_CHUNK_LINE) {
        throw new FramingError(400, "bad_chunk", "chunk line too long");
      }
      this.#arm(this.#limits.idleTimeoutMs, "idle");
      await this.#fill();
    }
  }
}
