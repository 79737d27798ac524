/**
 * HTTPS with a certificate per host name. `Deno.serve` takes one key pair, but `Deno.listenTls`
 * accepts a certificate resolver (behind `Symbol.for("unstableSniResolver")`) that is asked for
 * each name a client sends. So this listener terminates TLS with the store's certificate and
 * relays the plaintext to the gateway's own `Deno.serve` on a loopback port, where HTTP/1.1 and
 * HTTP/2 (h2c after ALPN chose h2) are served as usual.
 *
 * The runtime caches each name's answer for the life of the listener. When the store changes
 * the answer for a name already asked for, a fresh listener takes over the port, so new
 * connections see the change while open ones keep theirs: certificates reload without a restart.
 */
import type { Logger } from "@a3s/common";
import type { CertificateStore } from "./certificates.ts";

const RESOLVER = Symbol.for("unstableSniResolver");

/** Options of {@linkcode listenSni}. */
export interface SniListenerOptions {
  /** Listen address. */
  hostname: string;
  /** Listen port; 0 picks a free one. */
  port: number;
  /** Where certificates come from. */
  store: CertificateStore;
  /** The loopback port of the plaintext server the decrypted bytes go to. */
  upstreamPort: number;
  /** A client must finish its handshake within this; default 10 s (slow handshakes hold sockets). */
  handshakeTimeoutMs?: number;
  /** Handshake failures (unknown names) at debug. */
  logger?: Logger;
}

/** A running SNI listener. */
export interface SniListener {
  /** The bound address. */
  hostname: string;
  /** The bound port. */
  port: number;
  /**
   * The real client of a relayed connection, by the port the relay connected from (the peer
   * port the plaintext server sees); undefined when that connection is not one of ours.
   */
  clientOf(relayPort: number): string | undefined;
  /** How many times a store change rebound the listener. */
  readonly generation: number;
  /** Stops accepting; connections already relayed carry on. */
  stopAccepting(): void;
  /** Stops accepting and closes relayed connections. */
  close(): void;
}

type ResolverOptions = Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem;

/**
 * Copies `from` to `to` until `from` ends, then half-closes `to`. A read/write loop over one
 * buffer: stream piping costs several promises and an allocation per chunk, and on this relay
 * it was the larger part of an HTTPS request's cost.
 */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await from.read(buffer);
    if (n === null) break;
    let written = 0;
    while (written < n) written += await to.write(buffer.subarray(written, n));
  }
  try {
    await to.closeWrite();
  } catch {
    // The other side is gone already.
  }
}

/** Starts the listener; it serves the store's certificates from the first connection on. */
export function listenSni(options: SniListenerOptions): SniListener {
  const { store, upstreamPort, logger } = options;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const clients = new Map<number, string>();
  const open = new Set<Deno.Conn>();
  // What the current listener's resolver has answered, by name: the runtime caches those
  // answers, so a change to any of them needs a fresh listener, while a name never asked for
  // does not.
  let answered = new Map<string, string | undefined>();
  // SO_REUSEPORT lets a fresh listener bind before the old one closes, so no connection is
  // refused during a reload. For TLS listeners it needs --unstable-net, whose other APIs (such
  // as Deno.listenDatagram) exist only under that flag; asking for it without the flag ends the
  // process, so ask only when they do.
  const reusePort = "listenDatagram" in Deno;
  const bind = (port: number): Deno.TlsListener => {
    const asked = new Map<string, string | undefined>();
    const resolve = (serverName: string) => {
      const entry = store.lookup(serverName);
      asked.set(serverName, entry?.cert);
      if (!entry) throw new Error(`no certificate for '${serverName}'`);
      return { cert: entry.cert, key: entry.key };
    };
    const listener = Deno.listenTls({
      hostname: options.hostname,
      port,
      reusePort,
      alpnProtocols: ["h2", "http/1.1"],
      [RESOLVER]: resolve,
    } as unknown as ResolverOptions);
    answered = asked;
    return listener;
  };
  const stale = () => [...answered].some(([name, cert]) => store.lookup(name)?.cert !== cert);

  const relay = async (conn: Deno.TlsConn) => {
    open.add(conn);
    const timer = setTimeout(() => conn.close(), handshakeTimeoutMs);
    let upstream: Deno.TcpConn | undefined;
    try {
      await conn.handshake();
      clearTimeout(timer);
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
      upstream.setNoDelay(true);
      open.add(upstream);
      const relayPort = upstream.localAddr.port;
      clients.set(relayPort, (conn.remoteAddr as Deno.NetAddr).hostname);
      try {
        await Promise.all([pump(conn, upstream), pump(upstream, conn)]);
      } finally {
        clients.delete(relayPort);
      }
    } catch (error) {
      // A client that leaves or fails its handshake ends only its own connection.
      logger?.debug("tls connection ended", { error: String(error) });
    } finally {
      clearTimeout(timer);
      for (const c of [conn, upstream]) {
        if (!c) continue;
        open.delete(c);
        try {
          c.close();
        } catch {
          // Already closed by the other direction.
        }
      }
    }
  };

  const accept = async (listener: Deno.TlsListener) => {
    try {
      for await (const conn of listener) relay(conn);
    } catch {
      // The listener was closed (rebound or stopped).
    }
  };

  let listener = bind(options.port);
  const addr = listener.addr as Deno.NetAddr;
  accept(listener);
  let generation = 0;
  let closed = false;
  const rebind = async () => {
    const previous = listener;
    if (reusePort) {
      listener = bind(addr.port);
      previous.close();
    } else {
      // The old socket is released once its pending accept is cancelled, a moment after
      // close(); until then the port is busy, so retry briefly. New connections are refused
      // in between: the gap --unstable-net closes.
      previous.close();
      for (let tries = 0;; tries++) {
        try {
          listener = bind(addr.port);
          break;
        } catch (error) {
          if (!(error instanceof Deno.errors.AddrInUse) || tries >= 400) throw error;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
    }
    generation++;
    accept(listener);
  };
  let rebinding: Promise<void> = Promise.resolve();
  let pending = false;
  const unsubscribe = store.onChange(() => {
    // Changes in a burst (a directory of pairs) coalesce into one rebind, and only a change to
    // a name already answered needs one.
    if (closed || pending || !stale()) return;
    pending = true;
    rebinding = rebinding.then(() => {
      pending = false;
      if (closed) return;
      return rebind().catch((error) => {
        logger?.error("tls listener could not rebind", { error: String(error) });
      });
    });
  });
  return {
    hostname: addr.hostname,
    port: addr.port,
    clientOf: (relayPort) => clients.get(relayPort),
    get generation() {
      return generation;
    },
    stopAccepting() {
      if (closed) return;
      closed = true;
      unsubscribe();
      try {
        listener.close();
      } catch {
        // Closed by a rebind that was under way.
      }
    },
    close() {
      this.stopAccepting();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      open.clear();
    },
  };
}
