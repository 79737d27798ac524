/**
 * A service at run time: its backends with their state, the balancer that picks among them
 * and the active health check loop.
 */
import { Backend } from "./backend.ts";
import {
  type Balancer,
  consistentHash,
  leastConnections,
  roundRobin,
  weighted,
} from "./balancer.ts";
import type { ServiceConfig } from "./config.ts";
import type { HostPreservingClients } from "./host_clients.ts";

/** A running service. */
export class Service {
  /** The service's name in the config. */
  readonly name: string;
  /** Its settings. */
  readonly config: ServiceConfig;
  /** Its backends, in config order. */
  readonly backends: readonly Backend[];
  /** The strategy that picks a backend. */
  readonly balancer: Balancer;
  #timer?: ReturnType<typeof setInterval>;
  #checking = false;

  /**
   * Builds the backends and balancer; `previous` is the same service before a reload. Health
   * checks start with {@linkcode startHealthChecks}. `hostClients` is needed when the service
   * preserves the client's Host.
   */
  constructor(
    name: string,
    config: ServiceConfig,
    previous?: Service,
    now: () => number = Date.now,
    hostClients?: HostPreservingClients,
  ) {
    this.name = name;
    this.config = config;
    this.backends = config.backends.map((b) => {
      const backend = new Backend(b.url, b.weight, b.local, config.circuitBreaker, now);
      if (config.preserveHost && hostClients) backend.hostClient = hostClients.for(backend.url);
      // A reload keeps what health checks learnt: a backend known down stays out until it
      // passes again, instead of taking traffic until the next check.
      const before = previous?.backends.find((p) => p.url.href === backend.url.href);
      if (before && config.healthCheck) backend.healthy = before.healthy;
      return backend;
    });
    const lb = config.loadBalancer;
    this.balancer = lb.strategy === "weighted"
      ? weighted(this.backends)
      : lb.strategy === "least-connections"
      ? leastConnections(this.backends)
      : lb.strategy === "consistent-hash"
      ? consistentHash(this.backends, { header: lb.hashHeader, cookie: lb.hashCookie })
      : roundRobin(this.backends);
  }

  /** Starts the active health checks, if the service has them; the first runs at once. */
  startHealthChecks(): void {
    const check = this.config.healthCheck;
    if (!check || this.#timer !== undefined) return;
    const run = async () => {
      if (this.#checking) return; // a slow round must not pile up behind itself
      this.#checking = true;
      try {
        await Promise.all(this.backends.map(async (backend) => {
          backend.healthy = await probe(new URL(check.path, backend.url), check.timeoutMs);
        }));
      } finally {
        this.#checking = false;
      }
    };
    this.#timer = setInterval(run, check.intervalMs);
    run();
  }

  /** Stops the health checks. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** One health probe: any 2xx or 3xx within the timeout is healthy. */
async function probe(url: URL, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 400;
  } catch {
    return false;
  }
}
