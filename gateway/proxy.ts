/**
 * Forwards one request to a service: picks a backend, streams the request body up and the
 * response body down without buffering, bounds the wait for response headers, retries
 * idempotent body-less requests on another backend, and feeds the circuit breaker.
 */
import type { Backend } from "./backend.ts";
import { type ClientInfo, setForwardedHeaders, stripHopByHop } from "./forwarding.ts";
import type { Service } from "./service.ts";

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

/** Forwards `request` to `service` and returns the backend's response, or a gateway error. */
export async function forward(
  request: Request,
  service: Service,
  options: ForwardOptions,
): Promise<Response> {
  const headers = new Headers(request.headers);
  stripHopByHop(headers);
  for (const edit of options.headerEdits) edit(headers);
  setForwardedHeaders(headers, options.client, options.trustedProxies);
  const incoming = new URL(request.url);
  const retryable = IDEMPOTENT.has(request.method) && options.body === null;
  const maxAttempts = retryable ? 1 + service.config.retries : 1;
  const tried = new Set<Backend>();
  const skipDenied = (b: Backend) => options.allow && !options.allow(b);
  for (const b of service.backends) if (skipDenied(b)) tried.add(b);
  let lastError = "no backend available";
  let lastStatus = 503;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const backend = service.balancer.pick(request, tried);
    if (!backend) break;
    tried.add(backend);
    options.outcome.attempts++;
    const url = upstreamUrl(backend, options.path, incoming.search, options.client.host);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, service.config.timeoutMs);
    const onClientGone = () => controller.abort();
    request.signal.addEventListener("abort", onClientGone, { once: true });
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
        client: backend.hostClient,
        redirect: "manual",
        signal: controller.signal,
        // Streams the request body instead of buffering it first.
        ...(options.body ? { duplex: "half" } : {}),
      } as RequestInit);
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onClientGone);
      const ok = response.status < 500;
      if (!ok && attempt + 1 < maxAttempts && response.status !== 501) {
        await response.body?.cancel();
        finish(false);
        lastError = `backend answered ${response.status}`;
        lastStatus = 502;
        continue;
      }
      options.outcome.backend = backend;
      const responseHeaders = new Headers(response.headers);
      stripHopByHop(responseHeaders);
      if (!response.body) {
        finish(ok);
        return new Response(null, { status: response.status, headers: responseHeaders });
      }
      const completed = options.client.completed;
      if (completed) {
        // The server sends the backend's body itself; the backend stays busy until it is sent,
        // and a client that leaves mid-body cancels the upstream read.
        completed.then(() => finish(ok), () => {
          controller.abort();
          finish(ok);
        });
        return new Response(response.body, { status: response.status, headers: responseHeaders });
      }
      const relay = new TransformStream<Uint8Array, Uint8Array>({ flush: () => finish(ok) });
      // A client that goes away mid-body is not the backend's fault.
      response.body.pipeTo(relay.writable).catch(() => finish(request.signal.aborted && ok));
      return new Response(relay.readable, { status: response.status, headers: responseHeaders });
    } catch (error) {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onClientGone);
      finish(false);
      if (request.signal.aborted) return gatewayError(499, "client closed request");
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
