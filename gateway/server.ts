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
  /** TLS certificate and key (PEM) for HTTPS with HTTP/2. */
  tls?: { cert: string; key: string };
  /** Access-log and reload messages. */
  logger?: Logger;
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
  const proto = options.tls ? "https" : "http";
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
    onListen: () => {},
    ...(options.tls ?? {}),
  }, (request, info) => {
    const addr = info.remoteAddr as Deno.NetAddr;
    return gateway.handle(request, addr.hostname, proto, info.completed);
  });
  const watcher = file ? watchFile(file, options.reloadDebounceMs ?? 100, reload) : undefined;
  const addr = server.addr as Deno.NetAddr;
  return {
    gateway,
    hostname: addr.hostname,
    port: addr.port,
    lastReloadError: () => reloadError,
    reload,
    async close() {
      watcher?.close();
      await server.shutdown();
      gateway.close();
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
