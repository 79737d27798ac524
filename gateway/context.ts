/** The per-request state a router's Hono app carries from its middlewares to the proxy. */
import type { Backend } from "./backend.ts";
import type { ClientInfo } from "./forwarding.ts";
import type { ProxyOutcome } from "./proxy.ts";

/** What middlewares may change or learn about a request before it is forwarded. */
export interface RequestState {
  /** The path sent upstream; stripPrefix shortens it. */
  path: string;
  /** Edits to the upstream request headers. */
  headerEdits: ((headers: Headers) => void)[];
  /** The request body to forward; a size limit wraps it. */
  body: ReadableStream<Uint8Array> | null;
  /** Set when a size limit cut the body short; the proxy then answers 413. */
  bodyTooLarge: boolean;
  /** Restricts backends (privacy routing allows only local ones for sensitive requests). */
  allowBackend?: (backend: Backend) => boolean;
  /** The authenticated caller (API key name, user, JWT subject), when a middleware found one. */
  principal?: string;
}

/** The Hono environment of a router's app. */
export interface GatewayEnv {
  /** Fixed per request by the gateway. */
  Bindings: {
    client: ClientInfo;
    router: string;
    outcome: ProxyOutcome;
    /** The gateway span's trace context for the backend, when tracing records. */
    traceparent?: string;
    /** The normalized request path. */
    path: string;
    /** The query string with its `?`, or "". */
    search: string;
  };
  /** Shared between the router's middlewares and the proxy. */
  Variables: { state: RequestState };
}
