/**
 * Server assembly: one Hono app from the modules' sub-apps, with request ids, JSON logs,
 * metrics, tracing, body limits, the error contract and graceful shutdown.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Config } from "./config.ts";
import {
  A3sError,
  errorStyleForPath,
  isNamedUpstreamFailure,
  renderError,
  toA3sError,
  ValidationError,
} from "./errors.ts";
import { createLogger, type Logger } from "./logger.ts";
import { openStore, type Store } from "./store.ts";
import { counter, histogram, initTelemetry, metricsRegistry, tracer } from "./telemetry.ts";
import { mountDocs } from "./docs.ts";
import type { A3sModule, AccessRule } from "./module.ts";
import { type ModuleState, startModules } from "./module_runtime.ts";
import { createSecurity, metricMethod } from "./security/guard.ts";
import { AccessTable, SELF_AUTHENTICATED } from "./security/access.ts";
import { loadSecurityConfig } from "./security/config.ts";
import { serveGuarded } from "./security/connection_guard.ts";

/** What the server shares with the app it assembles and with every module it starts. */
export interface ServerContext {
  /** The validated top-level configuration. */
  config: Config;
  /** The shared store. */
  store: Store;
  /** The server's logger; modules get a child of it. */
  logger: Logger;
  /**
   * Aborted when the server starts shutting down, before it waits for in-flight requests:
   * long-lived responses (event streams, generations) end on it so draining can finish.
   */
  shutdown?: AbortSignal;
}

/** What `/readyz` reports: the store and each module, in start order. */
export interface Readiness {
  /** `ready` when the store and every module are. */
  status: "ready" | "not_ready";
  /** Whether the store answers a ping. */
  store: "ready" | "unreachable";
  /** Each module's state, in start order. */
  modules: Record<string, ModuleState>;
}

/** The assembled app and the hook that closes the modules. */
export interface AssembledApp {
  /** The assembled Hono app; `app.fetch` serves a request without a socket. */
  app: OpenAPIHono;
  /** Lets the modules finish their accepted background work (before any closes). */
  drainModules(): Promise<void>;
  /** Closes the modules in reverse start order. */
  closeModules(): Promise<void>;
  /** The store's and each module's readiness, as `/readyz` reports it. */
  readiness(): Promise<Readiness>;
}

const VERSION = "0.1.0";

const requestsTotal = counter({
  name: "a3s_http_requests_total",
  help: "HTTP requests by method, route and status.",
  labelNames: ["method", "route", "status"],
});
const requestSeconds = histogram({
  name: "a3s_http_request_duration_seconds",
  help: "HTTP request latency by method and route.",
  labelNames: ["method", "route"],
});

function sendError(c: Context, error: A3sError): Response {
  const { contentType, body } = renderError(errorStyleForPath(c.req.path), error, c.req.path);
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { "content-type": contentType, "x-request-id": c.get("requestId") ?? "" },
  });
}

/**
 * Whether `error` is the request's own body failing to arrive: its sender left mid-body, or the
 * connection guard cut it off (a chunk line it refuses comes after the head went on). Deno
 * throws a `BadResource` for it when the body is read, wherever that is (the body limit, a
 * validator, a handler). The request's signal has fired by then, as its connection is gone;
 * requiring that keeps any other `BadResource` a bug.
 */
function isBrokenRequestBody(error: unknown, request: Request): boolean {
  return error instanceof Deno.errors.BadResource &&
    /cannot read (request )?body/i.test(error.message) && request.signal.aborted;
}

/** Whether the first access rule a request matches is self-authenticated. */
function selfAuthenticated(
  rules: readonly AccessRule[],
): (method: string, path: string) => boolean {
  const patterns = new Set(rules.filter((r) => r.scope === SELF_AUTHENTICATED).map((r) => r.path));
  if (!patterns.size) return () => false;
  const table = new AccessTable(rules);
  return (method, path) => {
    const decision = table.decide(method, path, false);
    return decision.scope === undefined && patterns.has(decision.rule);
  };
}

function matchedRoute(c: Context): string {
  try {
    const path = routePath(c, -1);
    return path && path !== "/*" && path !== "*" ? path : "unmatched";
  } catch {
    return "unmatched";
  }
}

/**
 * Starts `modules` in dependency order and builds the app from their routes. Exposed apart
 * from {@linkcode startServer} so tests and embedders can call `app.fetch` without a socket.
 */
export async function assembleApp(
  ctx: ServerContext,
  modules: readonly A3sModule[],
): Promise<AssembledApp> {
  const app = new OpenAPIHono();
  const log = ctx.logger;

  app.use("*", requestId());
  app.use("*", async (c, next) => {
    const started = performance.now();
    await tracer.startActiveSpan(
      `${c.req.method} ${c.req.path}`,
      { kind: SpanKind.SERVER },
      async (span) => {
        try {
          await next();
        } finally {
          const route = matchedRoute(c);
          const seconds = (performance.now() - started) / 1000;
          const status = c.res.status;
          // Only known methods and matched routes become labels, so clients cannot grow /metrics.
          const method = metricMethod(c.req.method);
          requestsTotal.inc({ method, route, status: String(status) });
          requestSeconds.observe({ method, route }, seconds);
          span.updateName(`${c.req.method} ${route}`);
          span.setAttributes({
            "http.request.method": c.req.method,
            "http.route": route,
            "http.response.status_code": status,
          });
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
          log.info("request", {
            requestId: c.get("requestId"),
            method: c.req.method,
            path: c.req.path,
            route,
            status,
            durationMs: Math.round(seconds * 1e6) / 1e3,
          });
        }
      },
    );
  });
  // Tokens, scopes, Host and origin checks, per-client limits: before any body is read.
  const rules = modules.flatMap((module) => module.access ?? []);
  const security = await createSecurity({
    config: loadSecurityConfig(ctx.config),
    host: ctx.config.host,
    store: ctx.store,
    logger: log.child({ module: "security" }),
    rules,
  });
  app.use("*", security.middleware(app));
  // After the security check, so no body is read for a refused request. For a chunked body
  // (no content-length) bodyLimit reads it and puts a new request in `c.req.raw`; the caller
  // the security middleware recorded follows it (`security/caller.ts`).
  const limitBody = bodyLimit({
    maxSize: ctx.config.bodyLimit,
    onError: (c) =>
      sendError(
        c,
        new A3sError("payload_too_large", `request body exceeds ${ctx.config.bodyLimit} bytes`, {
          status: 413,
          field: "body",
        }),
      ),
  });
  // A self-authenticated route (a platform's webhook) refuses what it cannot verify and audits
  // each refusal, an oversized body included, which it cannot do for a request refused here:
  // such a route reads and bounds its body itself.
  const boundsOwnBody = selfAuthenticated(rules);
  app.use("*", (c, next) => boundsOwnBody(c.req.method, c.req.path) ? next() : limitBody(c, next));

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const field = /json/i.test(error.message) ? "body" : undefined;
      const status = error.status;
      const wrapped = status === 400
        ? new ValidationError(`body: ${error.message}`, field ?? "body")
        : status === 415
        // curl's `-d` alone labels a JSON body a form: say what to send instead.
        ? new A3sError(
          "unsupported_media_type",
          `content-type '${
            c.req.header("content-type") ?? "none"
          }' is not accepted: send Content-Type: application/json`,
          { status, field: "content-type" },
        )
        : new A3sError(status === 413 ? "payload_too_large" : "http_error", error.message, {
          status,
          field,
        });
      return sendError(c, wrapped);
    }
    if (isBrokenRequestBody(error, c.req.raw)) {
      // The client's doing, and anyone can do it at will: an error line for each would let them
      // flood the log. Nobody reads the answer either, its connection being gone.
      log.debug("request body broke off", { requestId: c.get("requestId"), path: c.req.path });
      return sendError(
        c,
        new A3sError("incomplete_body", "the request body broke off before its end", {
          status: 400,
          field: "body",
        }),
      );
    }
    const a3s = toA3sError(error);
    if (isNamedUpstreamFailure(error)) {
      // A registry offline or a broker down was foreseen and named where it happened: the
      // operator needs its message, not a stack that points at our own code.
      log.warn("upstream failure", {
        requestId: c.get("requestId"),
        path: c.req.path,
        status: a3s.status,
        code: a3s.code,
        error: a3s.message,
      });
    } else if (a3s.status >= 500) {
      log.error("unhandled error", {
        requestId: c.get("requestId"),
        path: c.req.path,
        error: String((error as Error)?.stack ?? error),
      });
    }
    return sendError(c, a3s);
  });
  app.notFound((c) =>
    sendError(
      c,
      new A3sError("not_found", `no route for ${c.req.method} ${c.req.path}`, { status: 404 }),
    )
  );

  app.get("/healthz", (c) => c.json({ status: "ok", version: VERSION }));
  const started = await startModules(
    { ...ctx, shutdown: ctx.shutdown ?? new AbortController().signal },
    modules,
  );
  const readiness = async (): Promise<Readiness> => {
    const store = (await ctx.store.ping()) ? "ready" : "unreachable";
    const states = await started.readiness();
    const ok = store === "ready" && Object.values(states).every((state) => state === "ready");
    return { status: ok ? "ready" : "not_ready", store, modules: states };
  };
  // Orchestrators read the status code; people read the body to see which module holds it up.
  app.get("/readyz", async (c) => {
    const report = await readiness();
    return c.json(report, report.status === "ready" ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    return c.body(await metricsRegistry.metrics(), 200, {
      "content-type": metricsRegistry.contentType,
    });
  });

  for (const { started: module } of started.running) {
    if (module.routes) app.route("/", module.routes);
  }

  // Built by hand rather than with doc31, which answers a schema that cannot be described
  // with a bare 500 `{}` and logs nothing; thrown here, onError logs the cause.
  app.get("/openapi.json", (c) =>
    c.json(app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "a3s", version: VERSION, description: "The a3s Agent Operating System API." },
    })));
  mountDocs(app);

  return { app, readiness, drainModules: started.drain, closeModules: started.close };
}

/**
 * The error `serve` reports when it cannot bind `host:port`: a port another process holds (a
 * second `serve`, Ollama on 11434) or an address this host does not have is the environment's
 * doing, so it is a named runtime failure (one line, exit 1) that says what to change.
 * Anything else is returned as it is.
 *
 * @example
 * ```ts
 * import { listenError } from "@a3s/common";
 * const error = listenError(new Deno.errors.AddrInUse("in use"), "127.0.0.1", 11434);
 * console.log((error as Error).message); // "port 11434 on 127.0.0.1 is in use; choose another with --port"
 * ```
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  const address = host.includes(":") ? `[${host}]` : host;
  if (error instanceof Deno.errors.AddrInUse) {
    return new A3sError(
      "address_in_use",
      `port ${port} on ${address} is in use; choose another with --port`,
      { status: 503, field: "port", cause: error },
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new A3sError(
      "address_not_available",
      `cannot listen on ${address}:${port}: this host has no such address; choose another with --host`,
      { status: 503, field: "host", cause: error },
    );
  }
  return error;
}

/** A running server. */
export interface RunningServer {
  /** The base URL, such as `http://127.0.0.1:11434`. */
  url: string;
  /** The port bound (the one the OS picked when the config asked for 0). */
  port: number;
  /** Stops accepting, lets in-flight requests finish, closes modules and storage. Idempotent. */
  shutdown(): Promise<void>;
  /** Resolves once the server has fully shut down. */
  finished: Promise<void>;
}

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  /** The validated configuration. */
  config: Config;
  /** The modules to start, in any order: serve orders them by `dependsOn`. */
  modules: readonly A3sModule[];
  /** Defaults to the store the config names. */
  store?: Store;
  /** Defaults to a JSON-lines logger at the config's level. */
  logger?: Logger;
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests do not). */
  handleSignals?: boolean;
}

/**
 * Opens storage, assembles the modules and serves them on `Deno.serve`.
 *
 * @example
 * ```ts
 * import { loadConfig, startServer } from "@a3s/common";
 * const server = await startServer({ config: loadConfig({ flags: { port: 0 } }), modules: [] });
 * await server.shutdown();
 * ```
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const config = options.config;
  const logger = options.logger ?? createLogger(config.logLevel);
  const stopTelemetry = await initTelemetry(config.otlpEndpoint);
  const store = options.store ??
    await openStore({ home: config.home, databaseUrl: config.databaseUrl });
  const stopping = new AbortController();
  let assembled: AssembledApp;
  try {
    assembled = await assembleApp(
      { config, store, logger, shutdown: stopping.signal },
      options.modules,
    );
  } catch (error) {
    // A module that fails to start leaves nothing open behind it.
    await store.close();
    await stopTelemetry();
    throw error;
  }
  const { app, drainModules, closeModules } = assembled;

  // Deno.serve has no deadline for request heads; the guard in front of it does (slowloris).
  let server: Awaited<ReturnType<typeof serveGuarded>>;
  try {
    server = await serveGuarded({
      hostname: config.host,
      port: config.port,
      handler: app.fetch,
      limits: loadSecurityConfig(config),
      logger: logger.child({ module: "security" }),
    });
  } catch (error) {
    // The modules have started by now (timers, children, open files): a port someone else
    // holds must not leave them running behind the one-line error.
    await closeModules();
    await store.close();
    await stopTelemetry();
    throw listenError(error, config.host, config.port);
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  logger.info("listening", { url, store: store.kind });

  const { promise: finished, resolve: markFinished } = Promise.withResolvers<void>();
  let stopped: Promise<void> | undefined;
  const signals: Deno.Signal[] = options.handleSignals ? ["SIGINT", "SIGTERM"] : [];
  const onSignal = () => void shutdown();
  const shutdown = () => {
    stopped ??= (async () => {
      logger.info("shutting down");
      stopping.abort();
      const timeout = new Promise<"timeout">((r) =>
        setTimeout(() => r("timeout"), config.shutdownTimeoutMs)
      );
      // Requests first, then the work modules accepted (queued chat replies), all within the
      // timeout and while every module still runs.
      const outcome = await Promise.race([
        server.shutdown().then(drainModules).then(() => "drained" as const),
        timeout,
      ]);
      if (outcome === "timeout") logger.warn("shutdown timed out; closing with work in flight");
      await closeModules();
      await store.close();
      await stopTelemetry();
      for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
      logger.info("stopped");
      markFinished();
    })();
    return stopped;
  };
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  return { url, port: addr.port, shutdown, finished };
}
