/**
 * The gateway's configuration: routers, services and middlewares, as one zod schema. The file
 * loader, the admin API and the CLI all validate through it, so it is the single source of
 * truth for what a config may say.
 */
import { z } from "zod";
import type { GatewayConfig } from "./config_types.ts";

const durationMs = z.number().int().min(1).max(3_600_000);

/** What a router matches; every field set must match (AND). */
const RuleSchema = z.object({
  /** Host names; `*.example.com` matches one or more leading labels. */
  hosts: z.array(z.string().min(1)).optional(),
  /** Path prefixes, matched on segment boundaries (`/api` matches `/api/x`, not `/apix`). */
  pathPrefix: z.array(z.string().startsWith("/")).optional(),
  /** Exact paths. */
  path: z.array(z.string().startsWith("/")).optional(),
  /** Methods, upper case. */
  methods: z.array(z.string().regex(/^[A-Z]+$/, "methods are upper-case tokens")).optional(),
  /** Header name to a value the header must equal; `*` only requires the header. */
  headers: z.record(z.string(), z.string()).optional(),
}).strict();

/** One router: a rule, a service and the middlewares in front of it. */
const RouterSchema = z.object({
  rule: RuleSchema,
  service: z.string().min(1),
  middlewares: z.array(z.string().min(1)).default([]),
  /** Higher first; ties go to the more specific rule (longer path, then exact host). */
  priority: z.number().int().default(0),
}).strict();

/** One upstream server. */
const BackendSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  weight: z.number().int().min(1).max(1000).default(1),
  /** On this machine or network; privacy routing sends sensitive requests only here. */
  local: z.boolean().default(false),
}).strict();

/** How a service spreads requests over its backends. */
const LoadBalancerSchema = z.object({
  strategy: z.enum(["round-robin", "weighted", "least-connections", "consistent-hash"]).default(
    "round-robin",
  ),
  /** consistent-hash: the header or cookie whose value picks the backend (sticky sessions). */
  hashHeader: z.string().optional(),
  hashCookie: z.string().optional(),
}).strict();

/** Active health checks: a backend failing them gets no traffic until it passes again. */
const HealthCheckSchema = z.object({
  path: z.string().startsWith("/").default("/healthz"),
  intervalMs: durationMs.default(5000),
  timeoutMs: durationMs.default(1000),
}).strict();

/** Passive ejection and the per-backend circuit breaker. */
const CircuitBreakerSchema = z.object({
  /** Consecutive failures (connection errors, timeouts, 5xx) that open the breaker. */
  failures: z.number().int().min(1).default(3),
  /** How long an open breaker keeps the backend out before one trial request. */
  openMs: durationMs.default(10_000),
}).strict();

/** One service: where a router's requests go. */
const ServiceSchema = z.object({
  backends: z.array(BackendSchema).min(1),
  loadBalancer: LoadBalancerSchema.default({ strategy: "round-robin" }),
  healthCheck: HealthCheckSchema.optional(),
  circuitBreaker: CircuitBreakerSchema.default({ failures: 3, openMs: 10_000 }),
  /** Time to the backend's response headers; past it the client gets 504. */
  timeoutMs: durationMs.default(30_000),
  /** Extra tries on another backend for idempotent requests without a body. */
  retries: z.number().int().min(0).max(5).default(1),
  /** Send the client's Host to the backends (plain http only), not the backend's own. */
  preserveHost: z.boolean().default(false),
}).strict().superRefine((service, ctx) => {
  if (!service.preserveHost) return;
  service.backends.forEach((b, i) => {
    // The client's Host goes over a connection to the backend's address; over TLS the
    // certificate would have to match the client's host name instead, which it does not.
    if (b.url.startsWith("https:")) {
      ctx.addIssue({
        code: "custom",
        path: ["backends", i, "url"],
        message: "preserveHost needs http backends",
      });
    }
  });
});

const sha256Hex = z.string().regex(/^sha256:[0-9a-f]{64}$/, "expected sha256:<64 hex digits>");

/** The middleware kinds; a middleware entry sets exactly one. */
const MiddlewareSchema = z.object({
  apiKeys: z.object({
    /** Key name to the key's hash (`a3s gateway hash KEY`); keys are never stored in clear. */
    keys: z.record(z.string(), sha256Hex),
    /** Read from `Authorization: Bearer` and from this header. */
    header: z.string().default("x-api-key"),
  }).strict().optional(),
  basicAuth: z.object({
    /** User name to the password's hash (`a3s gateway hash PASSWORD`). */
    users: z.record(z.string(), sha256Hex),
    realm: z.string().default("a3s"),
  }).strict().optional(),
  jwt: z.object({
    jwksUrl: z.url().optional(),
    /** HS256 shared secret. */
    secret: z.string().min(32).optional(),
    issuer: z.string().optional(),
    audience: z.string().optional(),
  }).strict().refine((j) => (j.jwksUrl === undefined) !== (j.secret === undefined), {
    message: "set exactly one of jwksUrl and secret",
  }).optional(),
  forwardAuth: z.object({
    address: z.url({ protocol: /^https?$/ }),
    /** Response headers of the auth service copied onto the forwarded request. */
    authResponseHeaders: z.array(z.string()).default([]),
    timeoutMs: durationMs.default(5000),
  }).strict().optional(),
  rateLimit: z.object({
    /** Tokens added per second. */
    average: z.number().positive(),
    /** Bucket size. */
    burst: z.number().int().min(1),
    /** Whose bucket: the client IP, the API key (falls back to IP) or the whole route. */
    by: z.enum(["ip", "key", "route"]).default("ip"),
    /** Keep the buckets in the shared store, so every gateway process shares this limit. */
    shared: z.boolean().default(false),
  }).strict().optional(),
  cors: z.object({
    origins: z.array(z.string()).min(1),
    methods: z.array(z.string()).default(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]),
    headers: z.array(z.string()).default([]),
    credentials: z.boolean().default(false),
    maxAge: z.number().int().min(0).default(600),
  }).strict().optional(),
  ipAllowList: z.object({
    allow: z.array(z.string()).default([]),
    deny: z.array(z.string()).default([]),
  }).strict().optional(),
  bodyLimit: z.object({ maxBytes: z.number().int().min(1) }).strict().optional(),
  headers: z.object({
    request: z.object({
      set: z.record(z.string(), z.string()).default({}),
      remove: z.array(z.string()).default([]),
    }).strict().default({ set: {}, remove: [] }),
    response: z.object({
      set: z.record(z.string(), z.string()).default({}),
      remove: z.array(z.string()).default([]),
    }).strict().default({ set: {}, remove: [] }),
  }).strict().optional(),
  stripPrefix: z.object({ prefixes: z.array(z.string().startsWith("/")).min(1) }).strict()
    .optional(),
  redirect: z.object({
    /** A regular expression over the full URL. */
    regex: z.string(),
    replacement: z.string(),
    permanent: z.boolean().default(false),
  }).strict().optional(),
  tokenMeter: z.object({
    /** Tokens a caller may use per sliding minute. */
    perMinute: z.number().int().min(1).optional(),
    /** Tokens a caller may use per UTC day. */
    perDay: z.number().int().min(1).optional(),
    /** Response bytes kept for counting; usage past this point of a body is not seen. */
    maxBodyBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
  }).strict().optional(),
  privacy: z.object({
    /** Requests at or above this level go only to backends marked `local`. */
    localAtOrAbove: z.enum(["Sensitive", "HighlySensitive", "Critical"]).default("Sensitive"),
  }).strict().optional(),
  compress: z.object({ encoding: z.enum(["gzip", "deflate"]).default("gzip") }).strict()
    .optional(),
}).strict().refine((m) => Object.values(m).filter((v) => v !== undefined).length === 1, {
  message: "a middleware sets exactly one kind (apiKeys, basicAuth, jwt, rateLimit, ...)",
});

/** The whole gateway config, as a file or the admin API holds it. */
export const GatewayConfigSchema: z.ZodType<GatewayConfig> = z.object({
  routers: z.record(z.string(), RouterSchema).default({}),
  services: z.record(z.string(), ServiceSchema).default({}),
  middlewares: z.record(z.string(), MiddlewareSchema).default({}),
  /** Peers whose X-Forwarded-* and Forwarded headers are kept; everyone else's are replaced. */
  trustedProxies: z.array(z.string()).default([]),
}).strict().superRefine((config, ctx) => {
  for (const [name, router] of Object.entries(config.routers)) {
    if (!config.services[router.service]) {
      ctx.addIssue({
        code: "custom",
        path: ["routers", name, "service"],
        message: `no service named '${router.service}'`,
      });
    }
    router.middlewares.forEach((m, i) => {
      if (!config.middlewares[m]) {
        ctx.addIssue({
          code: "custom",
          path: ["routers", name, "middlewares", i],
          message: `no middleware named '${m}'`,
        });
      }
    });
  }
});

export type {
  BackendConfig,
  CircuitBreakerConfig,
  GatewayConfig,
  HeaderEdits,
  HealthCheckConfig,
  LoadBalancerConfig,
  MiddlewareConfig,
  RouterConfig,
  RuleConfig,
  ServiceConfig,
} from "./config_types.ts";
