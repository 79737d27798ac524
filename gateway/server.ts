/**
 * The gateway's listener: serves a {@linkcode Gateway} over HTTP/1.1 (and HTTP/2 with TLS),
 * and watches its config file, applying each valid change and keeping the running config when
 * a change is invalid, so bad config never takes the gateway down.
 */
import type { Registry } from "prom-client";
import type { Logger, Store } from "@a3s/common";
import { migrateRateBuckets } from "./shared_rate_limit.ts";
import { GatewayConfigError, loadGatewayConfigFile } from "./config_file.ts";
import type { GatewayConfig } from "./config.ts";
import { Gateway } from "./gateway.ts";
import type { AcmeChallenges } from "./acme_challenges.ts";
import type { CertificateStore } from "./certificates.ts";
import { listenSni, type SniListener } from "./sni_listener.ts";

/** Options of {@linkcode startGateway}. */
export interface StartGatewayOptions {
  /** A config file to load and watch; or pass `config`. */
  configFile?: string;
  /** A config given directly (tests, the admin API). */
  config?: GatewayConfig;
  /** Listen address; default 127.0.0.1. */
  hostname?: string;
  /** Listen port; 0 picks a free one. Default 8080. */
  port?: number;
  /** One TLS certificate and key (PEM) for HTTPS with HTTP/2, whatever name a client asks for. */
  tls?: { cert: string; key: string };
  /**
   * Certificates chosen by the name the client asks for (SNI), for HTTPS with HTTP/2; changes
   * to the store reach new connections without a restart. Overrides `tls`. Served on `port`,
   * or on `httpsPort` when that is set (then `port` serves plain HTTP beside it).
   */
  certificates?: CertificateStore;
  /** With `certificates`: the HTTPS port, beside plain HTTP on `port`; 0 picks a free one. */
  httpsPort?: number;
  /** ACME HTTP-01 answers, served on the plain-HTTP listener before any router. */
  acmeChallenges?: AcmeChallenges;
  /** Access-log and reload messages. */
  logger?: Logger;
  /** Write an access-log line per request (default true); false when the level hides them. */
  accessLog?: boolean;
  /** Metric registry. */
  metrics?: Registry;
  /** The shared store, for rate limits shared between gateway processes. */
  store?: Store;
  /** How long to wait after a file change before reloading, so editors' bursts count once. */
  reloadDebounceMs?: number;
}

/** A running gateway listener. */
export interface RunningGateway {
  /** The gateway (routing table, backends). */
  gateway: Gateway;
  /** The bound address. */
  hostname: string;
  /** The bound port. */
  port: number;
  /** The HTTPS port, when HTTPS is served beside plain HTTP. */
  httpsPort?: number;
  /** The last reload error, cleared by the next good reload. */
  lastReloadError(): string | undefined;
  /** Reloads the config file now. */
  reload(): Promise<void>;
  /** Stops accepting, waits for in-flight requests, stops watching. */
  close(): Promise<void>;
}

/**
 * Starts a gateway listener.
 *
 * @example
 * ```ts
 * import { startGateway } from "@a3s/gateway";
 * const running = await startGateway({ config: { routers: {}, services: {}, middlewares: {}, trustedProxies: [] }, port: 0 });
 * console.log(running.port > 0); // true
 * await running.close();
 * ```
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const file = options.configFile;
  const initial = options.config ?? (file ? await loadGatewayConfigFile(file) : undefined);
  if (!initial) {
    throw new GatewayConfigError("<none>", "", undefined, "no config file or config given");
  }
  if (options.store) await migrateRateBuckets(options.store);
  const gateway = new Gateway(initial, {
    logger: options.logger,
    accessLog: options.accessLog,
    metrics: options.metrics,
    store: options.store,
  });
  let reloadError: string | undefined;
  const reload = async () => {
    if (!file) return;
    try {
      gateway.apply(await loadGatewayConfigFile(file));
      reloadError = undefined;
      options.logger?.info("config reloaded", { file });
    } catch (error) {
      reloadError = (error as Error).message;
      options.logger?.error("config reload failed; keeping the running config", {
        file,
        error: reloadError,
      });
    }
  };
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8080;
  const listening: Listening[] = [];
  try {
    if (options.certificates) {
      const plain = options.httpsPort !== undefined;
      if (plain) {
        listening.push(serveDirect(gateway, hostname, port, undefined, options.acmeChallenges));
      }
      const httpsPort = plain ? options.httpsPort! : port;
      listening.push(
        serveWithSni(gateway, options.certificates, hostname, httpsPort, options.logger),
      );
    } else {
      listening.push(serveDirect(gateway, hostname, port, options.tls, options.acmeChallenges));
    }
  } catch (error) {
    await Promise.all(listening.map((l) => l.close()));
    gateway.close();
    throw error;
  }
  const watcher = file ? watchFile(file, options.reloadDebounceMs ?? 100, reload) : undefined;
  return {
    gateway,
    hostname: listening[0].hostname,
    port: listening[0].port,
    httpsPort: listening.length > 1 ? listening[1].port : undefined,
    lastReloadError: () => reloadError,
    reload,
    async close() {
      watcher?.close();
      await Promise.all(listening.map((l) => l.close()));
      gateway.close();
    },
  };
}

/** A bound listener in front of the gateway. */
interface Listening {
  hostname: string;
  port: number;
  /** Stops accepting and lets requests in flight finish. */
  close(): Promise<void>;
}

/** Plain HTTP, or HTTPS with one key pair: Deno.serve faces the clients itself. */
function serveDirect(
  gateway: Gateway,
  hostname: string,
  port: number,
  tls: { cert: string; key: string } | undefined,
  challenges?: AcmeChallenges,
): Listening {
  const proto = tls ? "https" : "http";
  const server = Deno.serve(
    { hostname, port, onListen: () => {}, ...(tls ?? {}) },
    (request, info) => {
      if (challenges?.size) {
        const answer = challenges.respond(new URL(request.url).pathname);
        if (answer) return answer;
      }
      const addr = info.remoteAddr as Deno.NetAddr;
      return gateway.handle(request, addr.hostname, proto, info.completed);
    },
  );
  const addr = server.addr as Deno.NetAddr;
  return { hostname: addr.hostname, port: addr.port, close: () => server.shutdown() };
}

/**
 * HTTPS with certificates by SNI: the SNI listener terminates TLS and relays to a Deno.serve on
 * a loopback port, which serves only connections the listener relayed (anything else reaching
 * that port directly is refused, so it cannot pose as a client of its choosing).
 */
function serveWithSni(
  gateway: Gateway,
  store: CertificateStore,
  hostname: string,
  port: number,
  logger: Logger | undefined,
): Listening {
  let front: SniListener | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      const relay = info.remoteAddr as Deno.NetAddr;
      const client = relay.hostname === "127.0.0.1" ? front?.clientOf(relay.port) : undefined;
      if (client === undefined) {
        return Response.json({ error: { status: 421, message: "not a relayed connection" } }, {
          status: 421,
        });
      }
      return gateway.handle(request, client, "https", info.completed);
    },
  );
  try {
    front = listenSni({ hostname, port, store, upstreamPort: server.addr.port, logger });
  } catch (error) {
    void server.shutdown();
    throw error;
  }
  const sni = front;
  return {
    hostname: sni.hostname,
    port: sni.port,
    async close() {
      sni.stopAccepting();
      await server.shutdown();
      sni.close();
    },
  };
}

/** Calls `onChange` once per burst of changes to `file` (editors write in several steps). */
function watchFile(file: string, debounceMs: number, onChange: () => Promise<void>): {
  close(): void;
} {
  // Watch the directory: editors replace files by rename, which ends a watch on the file itself.
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) || "/" : ".";
  const name = file.slice(file.lastIndexOf("/") + 1);
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    try {
      for await (const event of watcher) {
        if (!event.paths.some((p) => p.endsWith(`/${name}`) || p === name)) continue;
        clearTimeout(timer);
        timer = setTimeout(() => void onChange(), debounceMs);
      }
    } catch {
      // The watcher was closed.
    }
  })();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
