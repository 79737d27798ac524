/**
 * Forwards one request to a service: picks a backend, streams the request body up and the
 * response body down without buffering, bounds the wait for response headers, retries
 * idempotent body-less requests on another backend, and feeds the circuit breaker.
 */
import type { Backend } from "./backend.ts";
import type { Deadlines } from "./deadlines.ts";
import {
  type ClientInfo,
  responseHeadersWithoutHops,
  setForwardedHeaders,
  stripHopByHop,
  upstreamHeaderList,
} from "./forwarding.ts";
import type { Service } from "./service.ts";

/** How long a wait for response headers lasts before the client's departure is watched. */
const CLIENT_WATCH_MS = 1000;

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/** What the proxy reports about a forwarded request, for metrics and the access log. */
export interface ProxyOutcome {
  /** The backend that answered, if any did. */
  backend?: Backend;
  /** How many backends were tried. */
  attempts: number;
}

/** Options of one forward. */
export interface ForwardOptions {
  /** Who sent the request. */
  client: ClientInfo;
  /** Peers whose forwarding headers are kept. */
  trustedProxies: readonly string[];
  /** The path to send upstream (after middlewares such as stripPrefix). */
  path: string;
  /** The query string (with its `?`), or "". */
  search: string;
  /** Where the wait for response headers is bounded. */
  deadlines: Deadlines;
  /** The gateway span's `traceparent` for the backend, when tracing records. */
  traceparent?: string;
  /**
   * The response goes through middlewares that may edit its headers: always give it headers
   * of its own (a fetched response's are immutable).
   */
  mutableResponse?: boolean;
  /** Filled in as the request is forwarded. */
  outcome: ProxyOutcome;
  /** The body to send up; middlewares may wrap the client's (a size limit, say). */
  body: ReadableStream<Uint8Array> | null;
  /** Edits middlewares made to the upstream request headers. */
  headerEdits: readonly ((headers: Headers) => void)[];
  /** Restricts the backends (privacy routing sends sensitive requests only to local ones). */
  allow?: (backend: Backend) => boolean;
}

/** A JSON error the gateway itself produces (502, 503, 504). */
export function gatewayError(status: number, message: string): Response {
  return Response.json({ error: { status, message } }, { status });
}

/**
 * The URL fetched for `backend`. A backend that preserves the client's Host is addressed by
 * that host, and its client connects to the backend's own address.
 */
function upstreamUrl(backend: Backend, path: string, search: string, clientHost: string): string {
  const base = backend.url.pathname.length > 1 ? backend.url.pathname.replace(/\/$/, "") : "";
  const origin = backend.hostClient ? `http://${clientHost}` : backend.url.origin;
  return `${origin}${base}${path}${search}`;
}

/** The upstream request headers: one pass when no middleware edits them. */
function upstreamHeaders(request: Request, options: ForwardOptions): HeadersInit {
  const { client, trustedProxies, traceparent } = options;
  if (!options.headerEdits.length) {
    const list = upstreamHeaderList(request.headers, client, trustedProxies);
    if (!traceparent) return list;
    const rest = list.filter(([name]) => name !== "traceparent");
    rest.push(["traceparent", traceparent]);
    return rest;
  }
  const headers = new Headers(request.headers);
  stripHopByHop(headers);
  for (const edit of options.headerEdits) edit(headers);
  if (traceparent) headers.set("traceparent", traceparent);
  setForwardedHeaders(headers, client, trustedProxies);
  return headers;
}

/**
 * The client's response: the backend's own when it carries no hop-by-hop header and nothing
 * downstream edits it.
 */
function clientResponse(response: Response, mutable: boolean): Response {
  const filtered = responseHeadersWithoutHops(response.headers);
  if (!filtered && !mutable) return response;
  return new Response(response.body, {
    status: response.status,
    headers: filtered ?? response.headers,
  });
}

/** Forwards `request` to `service` and returns the backend's response, or a gateway error. */
export async function forward(
  request: Request,
  service: Service,
  options: ForwardOptions,
): Promise<Response> {
  const headers = upstreamHeaders(request, options);
  const retryable = IDEMPOTENT.has(request.method) && options.body === null;
  const maxAttempts = retryable ? 1 + service.config.retries : 1;
  const tried = new Set<Backend>();
  if (options.allow) {
    for (const b of service.backends) if (!options.allow(b)) tried.add(b);
  }
  const completed = options.client.completed;
  // The attempt in flight, aborted when the client goes away. Deno.serve's `completed` covers
  // the body; for the wait for response headers only request.signal tells, and under Deno's
  // legacy abort (the default outside this workspace) reading it costs more than the rest of a
  // small request: Deno.serve then aborts it with a DOMException after every response. So it is
  // read only once a wait has lasted a second: a quick answer never pays, and a client leaving a
  // slow one frees the backend a second later at most.
  let inFlight: AbortController | undefined;
  let clientGone = false;
  let watching = false;
  const onClientGone = () => {
    clientGone = true;
    inFlight?.abort();
  };
  const watchClient = () => {
    watching = true;
    if (request.signal.aborted) onClientGone();
    else request.signal.addEventListener("abort", onClientGone, { once: true });
  };
  const unwatchClient = () => {
    if (watching) request.signal.removeEventListener("abort", onClientGone);
  };
  let lastError = "no backend available";
  let lastStatus = 503;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const backend = service.balancer.pick(request, tried);
    if (!backend) break;
    tried.add(backend);
    options.outcome.attempts++;
    const url = upstreamUrl(backend, options.path, options.search, options.client.host);
    const controller = new AbortController();
    inFlight = controller;
    let timedOut = false;
    const deadline = options.deadlines.add(service.config.timeoutMs, () => {
      timedOut = true;
      controller.abort();
    });
    const watchAfter = watching ? undefined : options.deadlines.add(CLIENT_WATCH_MS, watchClient);
    backend.begin();
    let finished = false;
    const finish = (ok: boolean) => {
      if (finished) return;
      finished = true;
      backend.end(ok);
    };
    try {
      const response = await fetch(url, {
        method: request.method,
        headers,
        body: options.body,
        redirect: "manual",
        signal: controller.signal,
        client: backend.hostClient,
        // Streams the request body instead of buffering it first.
        ...(options.body ? { duplex: "half" } : {}),
      } as RequestInit);
      options.deadlines.cancel(deadline);
      if (watchAfter) options.deadlines.cancel(watchAfter);
      unwatchClient();
      const ok = response.status < 500;
      if (!ok && attempt + 1 < maxAttempts && response.status !== 501) {
        await response.body?.cancel();
        finish(false);
        lastError = `backend answered ${response.status}`;
        lastStatus = 502;
        continue;
      }
      options.outcome.backend = backend;
      if (completed) {
        // The server sends the backend's body itself (never touched here: reading
        // `response.body` would turn the native body into a JS stream); the backend stays busy
        // until it is sent, and a client that leaves mid-body cancels the upstream read.
        completed.then(() => finish(ok), () => {
          controller.abort();
          finish(ok);
        });
        return clientResponse(response, options.mutableResponse === true);
      }
      if (!response.body) {
        finish(ok);
        return clientResponse(response, options.mutableResponse === true);
      }
      const relay = new TransformStream<Uint8Array, Uint8Array>({ flush: () => finish(ok) });
      // A client that goes away mid-body is not the backend's fault.
      response.body.pipeTo(relay.writable).catch(() => finish(clientGone && ok));
      return new Response(relay.readable, {
        status: response.status,
        headers: responseHeadersWithoutHops(response.headers) ?? response.headers,
      });
    } catch (error) {
      options.deadlines.cancel(deadline);
      if (watchAfter) options.deadlines.cancel(watchAfter);
      unwatchClient();
      finish(false);
      if (clientGone) return gatewayError(499, "client closed request");
      if (timedOut) {
        lastError = `backend did not answer within ${service.config.timeoutMs} ms`;
        lastStatus = 504;
      } else {
        lastError = `backend unreachable: ${(error as Error).message.split("\n")[0]}`;
        lastStatus = 502;
      }
    }
  }
  return gatewayError(lastStatus, lastError);
}
