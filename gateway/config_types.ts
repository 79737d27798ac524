/**
 * The validated config as plain interfaces: what the schema in `config.ts` produces, spelled out
 * so the public API has explicit types (the schema is checked against them at compile time).
 */

/** What a router matches; every field set must match. */
export interface RuleConfig {
  /** Host names; `*.example.com` matches one or more leading labels. */
  hosts?: string[];
  /** Path prefixes, matched on segment boundaries. */
  pathPrefix?: string[];
  /** Exact paths. */
  path?: string[];
  /** Methods, upper case. */
  methods?: string[];
  /** Header name to the value it must equal; `*` only requires the header. */
  headers?: Record<string, string>;
}

/** One router: a rule, a service and the middlewares in front of it. */
export interface RouterConfig {
  /** What it matches. */
  rule: RuleConfig;
  /** The service its requests go to. */
  service: string;
  /** Middleware names, applied in order. */
  middlewares: string[];
  /** Higher first; ties go to the more specific rule. */
  priority: number;
}

/** One upstream server. */
export interface BackendConfig {
  /** Its base URL (http or https). */
  url: string;
  /** Share of traffic under the weighted strategy. */
  weight: number;
  /** On this machine or network. */
  local: boolean;
}

/** How a service spreads requests. */
export interface LoadBalancerConfig {
  /** The strategy. */
  strategy: "round-robin" | "weighted" | "least-connections" | "consistent-hash";
  /** consistent-hash: the header whose value picks the backend. */
  hashHeader?: string;
  /** consistent-hash: the cookie whose value picks the backend. */
  hashCookie?: string;
}

/** Active health checks. */
export interface HealthCheckConfig {
  /** The path probed on each backend. */
  path: string;
  /** Time between probes. */
  intervalMs: number;
  /** Time a probe may take. */
  timeoutMs: number;
}

/** Passive ejection and the circuit breaker. */
export interface CircuitBreakerConfig {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long an open breaker keeps the backend out. */
  openMs: number;
}

/** One service. */
export interface ServiceConfig {
  /** Its backends. */
  backends: BackendConfig[];
  /** Its balancing strategy. */
  loadBalancer: LoadBalancerConfig;
  /** Active health checks, when set. */
  healthCheck?: HealthCheckConfig;
  /** Per-backend circuit breaker. */
  circuitBreaker: CircuitBreakerConfig;
  /** Time to response headers before 504. */
  timeoutMs: number;
  /** Extra tries for idempotent body-less requests. */
  retries: number;
  /** Whether backends get the client's Host header instead of their own. */
  preserveHost: boolean;
}

/** Header edits of the `headers` middleware. */
export interface HeaderEdits {
  /** Headers set. */
  set: Record<string, string>;
  /** Headers removed. */
  remove: string[];
}

/** One middleware entry; exactly one kind is set. */
export interface MiddlewareConfig {
  /** API keys: key name to `sha256:<hex>`; read from Bearer and `header`. */
  apiKeys?: { keys: Record<string, string>; header: string };
  /** HTTP basic: user to `sha256:<hex>` of the password. */
  basicAuth?: { users: Record<string, string>; realm: string };
  /** JWT from a JWKS URL or an HS256 secret. */
  jwt?: { jwksUrl?: string; secret?: string; issuer?: string; audience?: string };
  /** Ask an external service. */
  forwardAuth?: { address: string; authResponseHeaders: string[]; timeoutMs: number };
  /** Token bucket per IP, key or route. */
  rateLimit?: { average: number; burst: number; by: "ip" | "key" | "route"; shared: boolean };
  /** CORS. */
  cors?: {
    origins: string[];
    methods: string[];
    headers: string[];
    credentials: boolean;
    maxAge: number;
  };
  /** IP allow and deny lists (CIDR). */
  ipAllowList?: { allow: string[]; deny: string[] };
  /** Request-size limit. */
  bodyLimit?: { maxBytes: number };
  /** Request and response header edits. */
  headers?: { request: HeaderEdits; response: HeaderEdits };
  /** Path prefixes removed before forwarding. */
  stripPrefix?: { prefixes: string[] };
  /** Regex redirect. */
  redirect?: { regex: string; replacement: string; permanent: boolean };
  /** LLM token metering and per-caller quotas (OpenAI- and Ollama-shaped routes). */
  tokenMeter?: { perMinute?: number; perDay?: number; maxBodyBytes: number };
  /** Privacy routing through safeclaw's classifier. */
  privacy?: { localAtOrAbove: "Sensitive" | "HighlySensitive" | "Critical" };
  /** Response compression. */
  compress?: { encoding: "gzip" | "deflate" };
}

/** The whole validated gateway config. */
export interface GatewayConfig {
  /** Routers by name. */
  routers: Record<string, RouterConfig>;
  /** Services by name. */
  services: Record<string, ServiceConfig>;
  /** Middlewares by name. */
  middlewares: Record<string, MiddlewareConfig>;
  /** Peers whose forwarding headers are kept (CIDR). */
  trustedProxies: string[];
}
