/**
 * The routing table and request handling: a validated config becomes ordered routers, each a
 * small Hono app of its middlewares ending in the proxy. Applying a new config swaps the table
 * in one assignment; requests already running keep the table they started with, so a reload
 * drops nothing.
 */
import { Hono } from "hono";
import type { Registry } from "prom-client";
import type { Logger, Store } from "@a3s/common";
import type { GatewayConfig, RuleConfig } from "./config.ts";
import type { GatewayEnv, RequestState } from "./context.ts";
import type { ClientInfo } from "./forwarding.ts";
import { normalizePath, orderRouters, ruleMatches } from "./matcher.ts";
import { type GatewayMetrics, gatewayMetrics } from "./metrics.ts";
import { buildMiddleware } from "./middleware.ts";
import { type TextCounter, TokenMeter, type UsageRow } from "./metering.ts";
import type { MeteringDeps } from "./middlewares/token_meter.ts";
import { HostPreservingClients } from "./host_clients.ts";
import { Deadlines } from "./deadlines.ts";
import { forward, gatewayError, type ProxyOutcome } from "./proxy.ts";
import { Service } from "./service.ts";
import { endProxySpan, outgoingTraceparent, startProxySpan } from "./tracing.ts";
import { isWebSocketUpgrade, proxyWebSocket } from "./websocket.ts";

/** A router ready to serve. */
interface CompiledRouter {
  name: string;
  priority: number;
  rule: RuleConfig;
  service: Service;
  handle: (request: Request, env: GatewayEnv["Bindings"]) => Promise<Response>;
}

/** One generation of the config, compiled. */
interface Table {
  config: GatewayConfig;
  routers: CompiledRouter[];
  services: Map<string, Service>;
  loadedAt: Date;
}

/** A summary of a router for the admin API and the CLI. */
export interface RouterSummary {
  /** The router's name. */
  name: string;
  /** Its priority. */
  priority: number;
  /** Its service. */
  service: string;
  /** Its match rule. */
  rule: RuleConfig;
}

/** A backend's live state for the admin API and the CLI. */
export interface BackendSummary {
  /** The service it belongs to. */
  service: string;
  /** Its URL. */
  url: string;
  /** The active health check's verdict. */
  healthy: boolean;
  /** The circuit breaker's state. */
  breaker: string;
  /** Requests in flight. */
  active: number;
}

/** Options of a {@linkcode Gateway}. */
export interface GatewayOptions {
  /** Where access-log lines go (JSON, one per request); silent when unset. */
  logger?: Logger;
  /** Where metrics register; none when unset. */
  metrics?: Registry;
  /** The shared store, for rate limits shared between gateway processes (already migrated). */
  store?: Store;
  /** Counts text tokens when a response carries no usage; the cl100k tokenizer by default. */
  tokenCounter?: () => Promise<TextCounter>;
  /** Write an access-log line per request (default true); false when the log level hides them. */
  accessLog?: boolean;
}

/** The WebAssembly cl100k tokenizer, loaded once on first use. */
function wasmCounter(): () => Promise<TextCounter> {
  let loading: Promise<TextCounter> | undefined;
  return () =>
    loading ??= import("@a3s/wasm").then(async ({ getEncoding }) => {
      const encoding = await getEncoding("cl100k_base");
      return (text: string) => (text ? encoding.count(text) : 0);
    });
}

const HOST_PATTERN = /^[a-z0-9.-]*$|^\[[0-9a-f:.]+\]$/;

/**
 * The path and query of an absolute request URL, by string search: what the server hands over
 * is already parsed and serialized, so a second full parse per request would only repeat it.
 */
export function splitTarget(url: string): { origin: string; path: string; search: string } {
  const pathAt = url.indexOf("/", url.indexOf("://") + 3);
  if (pathAt < 0) return { origin: url, path: "/", search: "" };
  const queryAt = url.indexOf("?", pathAt);
  const hashAt = url.indexOf("#", pathAt);
  const end = hashAt < 0 ? url.length : hashAt;
  return queryAt < 0 || queryAt > end
    ? { origin: url.slice(0, pathAt), path: url.slice(pathAt, end), search: "" }
    : {
      origin: url.slice(0, pathAt),
      path: url.slice(pathAt, queryAt),
      search: url.slice(queryAt, end),
    };
}

/** Splits a Host header into a lower-case name, or undefined when it is not a valid host. */
function hostName(header: string | null): string | undefined {
  const value = (header ?? "").trim().toLowerCase();
  const name = value.startsWith("[") ? value.slice(0, value.indexOf("]") + 1) : value.split(":")[0];
  const port = value.slice(name.length);
  if (!HOST_PATTERN.test(name) || (port && !/^:\d{1,5}$/.test(port))) return undefined;
  return name;
}

/** A reverse proxy over a routing table that can be replaced while it serves. */
export class Gateway {
  #table: Table;
  readonly #logger?: Logger;
  readonly #metrics?: GatewayMetrics;
  readonly #metering: MeteringDeps;
  readonly #store?: Store;
  readonly #hostClients = new HostPreservingClients();
  readonly #deadlines = new Deadlines();
  readonly #accessLog: boolean;

  /** Compiles `config` and starts its health checks. */
  constructor(config: GatewayConfig, options: GatewayOptions = {}) {
    this.#logger = options.logger;
    this.#accessLog = options.logger !== undefined && options.accessLog !== false;
    this.#store = options.store;
    this.#metrics = options.metrics ? gatewayMetrics(options.metrics) : undefined;
    this.#metering = {
      meter: new TokenMeter(options.metrics),
      counter: options.tokenCounter ?? wasmCounter(),
    };
    this.#table = this.#compile(config);
  }

  /** The config being served. */
  get config(): GatewayConfig {
    return this.#table.config;
  }

  /** When the current config was applied. */
  get loadedAt(): Date {
    return this.#table.loadedAt;
  }

  /** Replaces the config; running requests finish on the old one, whose checks then stop. */
  apply(config: GatewayConfig): void {
    const next = this.#compile(config);
    const previous = this.#table;
    this.#table = next;
    for (const service of previous.services.values()) service.close();
  }

  /** The routers, in the order they are tried. */
  routers(): RouterSummary[] {
    return this.#table.routers.map((r) => ({
      name: r.name,
      priority: r.priority,
      service: r.service.name,
      rule: r.rule,
    }));
  }

  /** Every backend's live state. */
  backends(): BackendSummary[] {
    return [...this.#table.services.values()].flatMap((s) =>
      s.backends.map((b) => ({
        service: s.name,
        url: b.url.href,
        healthy: b.healthy,
        breaker: b.breaker,
        active: b.active,
      }))
    );
  }

  /** LLM token totals per caller and model, kept across reloads. */
  usage(): UsageRow[] {
    return this.#metering.meter.usage();
  }

  /** Stops health checks and closes the backend connections it holds. */
  close(): void {
    for (const service of this.#table.services.values()) service.close();
    this.#hostClients.close();
    this.#deadlines.close();
  }

  /**
   * Handles one client request; `remoteAddr` is the TCP peer, `proto` how it arrived, and
   * `completed` (from Deno.serve) settles once the response has been sent.
   */
  async handle(
    request: Request,
    remoteAddr: string,
    proto = "http",
    completed?: Promise<void>,
  ): Promise<Response> {
    const started = performance.now();
    const table = this.#table;
    const target = splitTarget(request.url);
    const hostHeader = request.headers.get("host") ?? target.origin.slice(
      target.origin.indexOf("://") + 3,
    );
    const host = hostName(hostHeader);
    if (host === undefined) return gatewayError(400, "invalid Host header");
    const path = normalizePath(target.path);
    if (path === undefined) return gatewayError(400, "path has encoded slashes or bad escapes");
    const router = table.routers.find((r) =>
      ruleMatches(r.rule, { host, path, method: request.method, headers: request.headers })
    );
    if (!router) return gatewayError(404, "no router matches this request");
    const client: ClientInfo = { remoteAddr, proto, host: hostHeader, completed };
    let response: Response;
    const outcome: ProxyOutcome = { attempts: 0 };
    const span = startProxySpan(request, router.name, path);
    try {
      response = await router.handle(request, {
        client,
        router: router.name,
        outcome,
        traceparent: outgoingTraceparent(span),
        path,
        search: target.search,
      });
    } catch (error) {
      this.#logger?.error("gateway handler failed", { router: router.name, error: String(error) });
      response = gatewayError(500, "gateway error");
    }
    endProxySpan(span, response.status, outcome.backend?.url.href ?? "");
    this.#observe(router, request, path, response, outcome, client, started);
    return response;
  }

  #observe(
    router: CompiledRouter,
    request: Request,
    path: string,
    response: Response,
    outcome: ProxyOutcome,
    client: ClientInfo,
    started: number,
  ): void {
    const seconds = (performance.now() - started) / 1000;
    const backend = outcome.backend?.url.href ?? "";
    const code = String(response.status);
    if (this.#metrics) {
      this.#metrics.requests.inc({
        router: router.name,
        service: router.service.name,
        backend,
        code,
      });
      this.#metrics.duration.observe({ router: router.name }, seconds);
      const length = Number(response.headers.get("content-length") ?? "0");
      if (length > 0) this.#metrics.bytes.inc({ router: router.name }, length);
      if (!outcome.backend && response.status >= 500) {
        this.#metrics.errors.inc({ router: router.name, code });
      }
    }
    if (!this.#accessLog) return;
    this.#logger?.info("access", {
      router: router.name,
      service: router.service.name,
      backend,
      method: request.method,
      path,
      status: response.status,
      ms: Math.round(seconds * 1000 * 100) / 100,
      client: client.remoteAddr,
      attempts: outcome.attempts,
    });
  }

  #compile(config: GatewayConfig): Table {
    const services = new Map<string, Service>();
    // Undefined on the first compile, from the constructor.
    const before = this.#table?.services as Map<string, Service> | undefined;
    for (const [name, s] of Object.entries(config.services)) {
      services.set(name, new Service(name, s, before?.get(name), Date.now, this.#hostClients));
    }
    const routers = orderRouters(
      Object.entries(config.routers).map(([name, r]) => {
        const service = services.get(r.service)!;
        return {
          name,
          priority: r.priority,
          rule: r.rule,
          service,
          handle: this.#routerApp(config, r.middlewares, service),
        };
      }),
    );
    for (const service of services.values()) service.startHealthChecks();
    return { config, routers, services, loadedAt: new Date() };
  }

  #routerApp(
    config: GatewayConfig,
    middlewares: string[],
    service: Service,
  ): (request: Request, env: GatewayEnv["Bindings"]) => Promise<Response> {
    const proxy = async (
      request: Request,
      state: RequestState,
      env: GatewayEnv["Bindings"],
    ) => {
      const outcome = env.outcome;
      if (isWebSocketUpgrade(request)) {
        const denied = new Set(service.backends.filter((b) => state.allowBackend?.(b) === false));
        const backend = service.balancer.pick(request, denied);
        if (!backend) return gatewayError(503, "no backend available");
        outcome.backend = backend;
        outcome.attempts = 1;
        return await proxyWebSocket(request, backend, state.path, service.config.timeoutMs);
      }
      const response = await forward(request, service, {
        client: env.client,
        trustedProxies: config.trustedProxies,
        path: state.path,
        search: env.search,
        deadlines: this.#deadlines,
        traceparent: env.traceparent,
        mutableResponse: middlewares.length > 0,
        outcome,
        body: state.body,
        headerEdits: state.headerEdits,
        allow: state.allowBackend,
      });
      if (state.bodyTooLarge) {
        await response.body?.cancel();
        return gatewayError(413, "request body over the limit");
      }
      return response;
    };
    const initialState = (request: Request, env: GatewayEnv["Bindings"]): RequestState => ({
      path: env.path,
      headerEdits: [],
      body: request.body,
      bodyTooLarge: false,
    });
    // A router without middlewares skips Hono's dispatch altogether.
    if (!middlewares.length) {
      return (request, env) => proxy(request, initialState(request, env), env);
    }
    const app = new Hono<GatewayEnv>();
    app.use("*", async (c, next) => {
      c.set("state", initialState(c.req.raw, c.env));
      await next();
    });
    // Hono routes on the request's URL: give it the normalized path, so a middleware and the
    // backend see the same one.
    for (const name of middlewares) {
      app.use(
        "*",
        buildMiddleware(config.middlewares[name], name, {
          metering: this.#metering,
          audit: this.#logger,
          store: this.#store,
        }),
      );
    }
    app.all("*", (c) => proxy(c.req.raw, c.var.state, c.env));
    app.onError((error) => {
      this.#logger?.error("router failed", { error: String(error) });
      return gatewayError(500, "gateway error");
    });
    return async (request, env) => {
      const { origin, path } = splitTarget(request.url);
      const routed = path === env.path
        ? request
        : new Request(`${origin}${env.path}${env.search}`, request);
      return await app.fetch(routed, env);
    };
  }
}
